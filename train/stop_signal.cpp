#include "train/stop_signal.h"

#include <atomic>
#include <csignal>

namespace masklm {

namespace {

// Lock-free, so setting it is async-signal-safe.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void record_stop_signal(int signal_number) { g_stop_signal.store(signal_number); }

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal arriving during a write must not fail the checkpoint with EINTR.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() { return g_stop_signal.load() != 0; }
int stop_signal() { return g_stop_signal.load(); }
void request_stop(int signal_number) { g_stop_signal.store(signal_number); }
void clear_stop_request() { g_stop_signal.store(0); }

}  // namespace masklm
