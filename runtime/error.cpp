#include "runtime/error.h"

namespace masklm {

void throw_check_failure(const char* expr, const char* file, int line,
                         const std::string& message) {
  throw Error(fmt::format("{} (check `{}` failed at {}:{})", message, expr, file, line));
}

}  // namespace masklm
