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

LogLevel log_level() { return level_ref().load(std::memory_order_relaxed); }
void set_log_level(LogLevel level) { level_ref().store(level); }

void log_write(LogLevel level, const std::string& message) {
  static const char* const kTags[] = {"error", "warn", "info", "debug"};
  std::fprintf(stderr, "[masklm %s] %s\n", kTags[static_cast<int>(level)], message.c_str());
}

}  // namespace masklm
