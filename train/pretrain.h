// One pretraining run from a recipe, as `masklm pretrain` (and sweeps) start it: loads the
// YAML recipe, applies --set overrides, opens the data, writes the resolved config to
// RUN_DIR/config.yaml, trains with SIGINT/SIGTERM as a clean stop, resumes on request.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace masklm {

struct PretrainRequest {
  std::filesystem::path config_file;   // empty with resume: RUN_DIR/config.yaml
  std::vector<std::string> overrides;  // "key.sub=value"
  std::filesystem::path run_dir;
  bool resume = false;  // continue from the newest checkpoint in run_dir (if there is one)
  Device device = Device::CPU;  // not part of the recipe: a run may resume on another device
  FILE* terminal = stdout;
};

// A fresh run refuses a run_dir that already holds checkpoints (no silent overwrite).
TrainOutcome pretrain(const PretrainRequest& request);

}  // namespace masklm
