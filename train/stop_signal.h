// SIGINT and SIGTERM as a stop request: the handler only records the signal; the trainer
// polls stop_requested() at the end of each step, writes a checkpoint and returns.
#pragma once

namespace masklm {

// Installs the handlers for SIGINT and SIGTERM (idempotent).
void install_stop_signal_handlers();
bool stop_requested();
// The signal that asked to stop (SIGINT, SIGTERM), or 0 when none did.
int stop_signal();
// Asks to stop as a signal would (tests, embedding programs).
void request_stop(int signal_number);
void clear_stop_request();

}  // namespace masklm
