// Running the built `masklm` executable as a user would, for the CLI tests (MASKLM_CLI is
// its path, set by tests/CMakeLists.txt).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace masklm::testing {

struct CliOutput {
  int status = -1;   // exit status
  std::string text;  // stdout, and stderr unless it went to a file
};

// `masklm ARGS` through the shell, in `cwd` when given; stderr goes to `stderr_file`, else
// into the text.
inline CliOutput run_cli(const std::string& args, const std::string& stderr_file = "",
                         const std::string& cwd = "") {
  const std::string command = (cwd.empty() ? "" : "cd '" + cwd + "' && ") +
                              std::string(MASKLM_CLI) + " " + args +
                              (stderr_file.empty() ? " 2>&1" : " 2>" + stderr_file);
  FILE* pipe = popen(command.c_str(), "r");
  CliOutput out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.text.append(buffer, n);
  const int status = pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace masklm::testing
