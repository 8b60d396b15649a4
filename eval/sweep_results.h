// What a sweep directory holds, read back for reports. The layout (docs/evaluation.md):
//
//   DIR/<cell>/cell.json       the cell's parameters:
//                              {"model": "small", "seed": 1, "mask_rate": 0.4}
//                              or {"model": ..., "seed": ..., "m_corr": 0.4, "m_pred": 0.2},
//                              or both forms; plus an optional "variant" ("span", "80-10-10", ...)
//   DIR/<cell>/metrics.jsonl   written by the trainer (train/run_log.h): lines with
//                              "kind": "train" or "eval", "step", "loss", ("accuracy")
//   DIR/<cell>/finetune.json   downstream scores: {"<task>": {"<metric>": value, ...}, ...}
//
// A cell directory is one with a cell.json; metrics.jsonl and finetune.json may be missing
// (a cell that has not run or not been fine-tuned yet).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace masklm {

struct CellParams {
  std::string model;
  int64_t seed = 0;
  std::string variant;  // empty: the sweep's default masking
  // The x axis of rate sweeps. Not derived from m_corr = m_pred: under BERT's 80-10-10 a
  // masking rate is not that pair, so a cell that belongs to both views gives both.
  std::optional<double> mask_rate;
  std::optional<double> m_corr, m_pred;  // given together: a cell of the m_corr x m_pred grid
};

struct LossPoint {
  int64_t step = 0;
  double loss = 0;
};

struct SweepCell {
  std::string name;  // the directory name
  CellParams params;
  bool has_metrics = false;
  std::vector<LossPoint> train_loss, val_loss;  // in file order; non-finite losses left out
  std::optional<double> val_accuracy;           // of the last evaluation
  std::map<std::string, std::map<std::string, double>> downstream;  // task -> metric -> value
                                                                    // (NaN: null in the file)
};

// Writes a cell.json (atomically) that read_sweep reads back to `params`.
void write_cell_params(const std::filesystem::path& path, const CellParams& params);

// The cells of `dir`, sorted by directory name. Errors name the file (and line in
// metrics.jsonl); a last metrics.jsonl line cut off by a killed run is skipped.
std::vector<SweepCell> read_sweep(const std::filesystem::path& dir);

}  // namespace masklm
