// Logging to stderr with a level set by MASKLM_LOG (error, warn, info, debug; default info).
// In a job of several processes (set_log_rank) only rank 0 writes info and debug lines,
// which every rank would repeat; warnings and errors come from every rank, tagged with it.
#pragma once

#include <fmt/format.h>

#include <string>

namespace masklm {

enum class LogLevel { ERROR = 0, WARN = 1, INFO = 2, DEBUG = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);
void set_log_rank(int rank, int world_size);
void log_write(LogLevel level, const std::string& message);

template <typename... Args> void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() >= LogLevel::INFO) log_write(LogLevel::INFO, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() >= LogLevel::WARN) log_write(LogLevel::WARN, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() >= LogLevel::DEBUG) log_write(LogLevel::DEBUG, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace masklm
