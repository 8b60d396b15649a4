// `masklm report DIR`: report.md and SVG plots for a sweep directory (eval/report.h).
#include <fmt/format.h>

#include "cli/commands.h"
#include "eval/report.h"

namespace masklm::cli {

void register_report(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report",
                                 "Tables and plots (report.md, plots/*.svg) for a sweep directory");
  cmd->add_option("dir", *dir,
                  "Sweep directory: DIR/<cell>/{cell.json, metrics.jsonl, finetune.json}")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->callback([dir] {
    const ReportFiles files = write_report(*dir);
    fmt::print("{} cells ({} without training metrics yet)\nwrote {} and {} plots in {}\n",
               files.cells, files.cells_without_metrics, files.markdown.string(),
               files.plots.size(), (files.markdown.parent_path() / "plots").string());
  });
}

}  // namespace masklm::cli
