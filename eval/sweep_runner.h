// `masklm sweep`: every cell of a sweep plan (eval/sweep_spec.h) pretrained and fine-tuned
// into one directory that `masklm report` reads (eval/sweep_results.h):
//
//   DIR/sweep.yaml                  the sweep file as last run
//   DIR/<cell>/cell.json            the cell's parameters
//   DIR/<cell>/config.yaml, metrics.jsonl, events.*, checkpoints/   its pretraining run
//   DIR/<cell>/finetune/<task>/     each task's run (or grid: grid/, grid_summary.json)
//   DIR/<cell>/finetune.json        every task's scores (a grid's best configuration's medians)
//   DIR/<cell>/done.json            written last, atomically: the cell is finished
//
// Resumable: finished cells are skipped; a cell with checkpoints resumes from its newest
// (train/trainer.h, bit for bit); a pretraining run that already reached its last step is
// not run again, and fine-tuning grids skip their finished points. SIGINT/SIGTERM stop at
// the next pretraining step boundary (with a checkpoint) or after the current fine-tuning run.
#pragma once

#include <cstdio>
#include <filesystem>

#include "eval/sweep_spec.h"
#include "train/trainer.h"

namespace masklm {

// Pretraining and fine-tuning run on `device`. Progress across the grid (cell i/N,
// name, elapsed time, ETA from the cells finished in this run) and the runs' own output go to
// `terminal` (nullptr: silent). STOPPED when a stop was requested before the last cell finished.
TrainOutcome run_sweep(const SweepPlan& plan, const std::filesystem::path& sweep_file,
                       const std::filesystem::path& out, Device device, FILE* terminal);

}  // namespace masklm
