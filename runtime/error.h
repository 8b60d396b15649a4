// Errors: one exception type for everything a user can act on, and check macros
// that report the failing expression with file:line. Checks are never compiled out.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace masklm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] void throw_check_failure(const char* expr, const char* file, int line,
                                      const std::string& message);

}  // namespace masklm

// MASKLM_CHECK(cond, "format {}", args...): throws masklm::Error naming the condition.
#define MASKLM_CHECK(cond, ...)                                                        \
  do {                                                                                 \
    if (!(cond)) [[unlikely]]                                                          \
      ::masklm::throw_check_failure(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

// MASKLM_FAIL("format {}", args...): unconditional user-facing error.
#define MASKLM_FAIL(...) throw ::masklm::Error(fmt::format(__VA_ARGS__))
