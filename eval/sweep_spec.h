// A sweep file (`masklm sweep --grid FILE.yaml`, configs/sweeps/, docs/evaluation.md): a base
// recipe, overrides for every cell, axes whose cartesian product makes the cells, and optional
// fine-tuning of every cell's final checkpoint.
//
//   base: configs/tiny-corpus.yaml          # paths are relative to the working directory
//   set: {train.steps: 200}                 # every cell (optional)
//   axes:                                   # first axis outermost
//     - masking.mask_rate: [0.15, 0.4, 0.8] # a recipe key and its values
//     - train.seed: [1, 2]
//     - variant:                            # named sets of overrides (at most one such axis)
//         - {name: mask-only, set: {masking.mask_split: {mask: 1.0}}}
//         - {name: 80-10-10, set: {masking.mask_split: {mask: 0.8, random: 0.1, keep: 0.1}}}
//   finetune:                               # optional, one entry per task
//     - {task: glue/sst2, data: glue, tokenizer: tok.json, set: {epochs: 3},
//        grid: [{lr: [1.0e-5, 2.0e-5]}, {seed: [1, 2, 3]}]}
//
// Loading expands the cells and checks each one's recipe with the strict readers, so a typo
// in a key or an impossible value is an error naming the file, the cell and the key before
// anything runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/sweep_results.h"
#include "train/finetune_grid.h"

namespace masklm {

struct SweepFineTune {
  std::string task;                 // "glue/sst2", "squad/v1.1" (train/finetune_target.h)
  std::filesystem::path data;       // as --data
  std::filesystem::path tokenizer;  // empty: the pretraining run's
  FineTuneGrid grid;                // settings, and axes (none: a single run)
};

struct SweepCellPlan {
  std::string name;                    // its directory in the sweep
  CellParams params;                   // its cell.json
  std::vector<std::string> overrides;  // "key=value" on the base recipe: `set`, then the axes'
  int64_t steps = 0;                   // train.steps, the step of its final checkpoint
};

struct SweepPlan {
  std::filesystem::path base;  // the base recipe
  std::vector<SweepCellPlan> cells;
  std::vector<SweepFineTune> finetune;
};

SweepPlan load_sweep(const std::filesystem::path& file);

}  // namespace masklm
