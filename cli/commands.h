// Subcommand registration. Each register_* adds one subcommand whose callback does the work;
// masklm::Error thrown there reaches main, which prints it and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace masklm::cli {

void register_devices(CLI::App& app);
void register_pretrain(CLI::App& app);
void register_prepare(CLI::App& app);
void register_mask_preview(CLI::App& app);
void register_pmi_vocab(CLI::App& app);
void register_eval(CLI::App& app);
void register_score(CLI::App& app);
void register_export(CLI::App& app);
void register_import(CLI::App& app);
void register_report(CLI::App& app);
void register_finetune(CLI::App& app);
void register_sweep(CLI::App& app);

inline void register_commands(CLI::App& app) {
  register_devices(app);
  register_pretrain(app);
  register_prepare(app);
  register_mask_preview(app);
  register_pmi_vocab(app);
  register_eval(app);
  register_score(app);
  register_export(app);
  register_import(app);
  register_report(app);
  register_finetune(app);
  register_sweep(app);
}

}  // namespace masklm::cli
