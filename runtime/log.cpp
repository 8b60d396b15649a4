#include "runtime/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace masklm {

static LogLevel level_from_env() {
  const char* env = std::getenv("MASKLM_LOG");
  if (!env) return LogLevel::INFO;
  const std::string_view v(env);
  if (v == "error") return LogLevel::ERROR;
  if (v == "warn") return LogLevel::WARN;
  if (v == "debug") return LogLevel::DEBUG;
  return LogLevel::INFO;
}

static std::atomic<LogLevel>& level_ref() {
  static std::atomic<LogLevel> level{level_from_env()};
  return level;
}

static std::atomic<int> log_rank{0}, log_world_size{1};

LogLevel log_level() { return level_ref().load(std::memory_order_relaxed); }
void set_log_level(LogLevel level) { level_ref().store(level); }

void set_log_rank(int rank, int world_size) {
  log_rank.store(rank);
  log_world_size.store(world_size);
}

void log_write(LogLevel level, const std::string& message) {
  static const char* const kTags[] = {"error", "warn", "info", "debug"};
  const char* tag = kTags[static_cast<int>(level)];
  const int rank = log_rank.load(std::memory_order_relaxed);
  if (log_world_size.load(std::memory_order_relaxed) == 1) {
    std::fprintf(stderr, "[masklm %s] %s\n", tag, message.c_str());
  } else if (level <= LogLevel::WARN) {
    std::fprintf(stderr, "[masklm %s, rank %d] %s\n", tag, rank, message.c_str());
  } else if (rank == 0) {
    std::fprintf(stderr, "[masklm %s] %s\n", tag, message.c_str());
  }
}

}  // namespace masklm
