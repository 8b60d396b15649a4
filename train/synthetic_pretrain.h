// Pretraining on the synthetic task (train/synthetic_task.h): what `masklm pretrain
// --synthetic` and the demo run until real data and the full trainer are wired in.
#pragma once

#include <functional>
#include <vector>

#include "model/config.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/synthetic_task.h"

namespace masklm {

struct SyntheticRun {
  ModelConfig model;
  SyntheticTask task;
  AdamWConfig optimizer;
  LrSchedule lr;
  int64_t steps = 200;
  uint64_t seed = 0;
};

struct StepReport {
  int64_t step;
  double loss, accuracy, lr, grad_norm, tokens_per_second;
};

// Trains from a fresh init; calls on_step after every step; returns every step's loss.
std::vector<double> run_synthetic_pretraining(const SyntheticRun& run,
                                              const std::function<void(const StepReport&)>& on_step = {});

}  // namespace masklm
