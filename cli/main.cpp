// The masklm command: parses arguments and calls the library. Each subcommand lives in
// its own cli/cmd_*.cpp and registers itself through cli/commands.h.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "masklm/version.h"
#include "runtime/error.h"
#include "runtime/launcher.h"
#include "runtime/log.h"

int main(int argc, char** argv) {
  CLI::App app{"masklm: masked-language-model pretraining research"};
  app.set_version_flag("--version", std::string("masklm ") + MASKLM_VERSION);
  app.require_subcommand(1);
  masklm::cli::register_commands(app);
  masklm::set_log_rank(masklm::launcher_rank(), masklm::launcher_world_size());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const masklm::Error& e) {
    if (masklm::launcher_world_size() > 1)
      std::fprintf(stderr, "masklm: error (rank %d): %s\n", masklm::launcher_rank(), e.what());
    else
      std::fprintf(stderr, "masklm: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
