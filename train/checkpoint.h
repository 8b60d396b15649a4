// Training checkpoints: everything a bitwise-exact resume needs, in a directory that is
// also a Hugging Face-style model directory (so eval and export read it as it is):
//
//   RUN_DIR/checkpoints/step-00000100/
//     model.safetensors      parameters under Hugging Face names (model/params.h table)
//     config.json            the model as a Hugging Face config (model/hf_config.h)
//     optimizer.safetensors  AdamW's m and v as one flat buffer in the parameter layout
//     trainer_state.json     step, optimizer steps, skip counters, the partial log window,
//                            the fp16 loss scaler's state, the resolved run config
//
// Randomness (dropout, data order, masking) is stateless Philox keyed by (seed, step) and
// batch sources are pure functions of the step, so the step is the RNG and data cursor.
//
// A checkpoint is written into step-N.tmp/ (each file fsynced), then renamed to step-N/ and
// the parent directory fsynced: a crash leaves the previous checkpoints and at most a
// stale .tmp directory, never a step-N/ that is incomplete.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "model/mlm_model.h"
#include "train/flops.h"
#include "train/optimizer.h"

namespace masklm {

// The steps since the last train record (metrics.jsonl), summed; checkpointed so that a run
// resumed between two records logs the record the uninterrupted run logs.
struct LogWindow {
  double loss = 0, accuracy = 0;  // over the finite steps
  double seconds = 0;             // of the steps' own time (a resume's gap not counted)
  int64_t steps = 0, finite_steps = 0;
  TokenCounts counts;  // `corrupted` absent from older checkpoints: 0
};

struct TrainerState {
  int64_t step = 0;           // optimizer steps done, counting skipped ones (the data cursor)
  int64_t skipped_steps = 0;  // steps skipped for a non-finite loss or gradient
  int64_t bad_steps_in_row = 0;
  LogWindow log_window;  // absent from older checkpoints: empty
  nlohmann::json loss_scaler;  // fp16 runs: train/loss_scaler.h's state after the last step
                               // (Trainer::state() fills it in from the live scaler)
};

std::filesystem::path checkpoint_path(const std::filesystem::path& checkpoints_dir, int64_t step);

void save_checkpoint(const std::filesystem::path& dir, const MlmModel& model, AdamW& optimizer,
                     const TrainerState& state, const nlohmann::json& run_config);

// Restores parameters, optimizer state and counters into objects built for the same model;
// any difference in the model's shape is an error naming the tensor.
TrainerState load_checkpoint(const std::filesystem::path& dir, MlmModel& model, AdamW& optimizer);
// Parameters only (evaluation, export).
void load_model_weights(const std::filesystem::path& dir, MlmModel& model);
// The resolved run configuration the checkpoint was trained with.
nlohmann::json read_checkpoint_run_config(const std::filesystem::path& dir);

// The tokenizer the checkpoint's run trained with: tokenizer.json in the checkpoint or in
// its run directory (RUN/checkpoints/step-N), else the one recorded in the manifest of a
// prepared dataset the run's data section names.
std::optional<std::filesystem::path> find_run_tokenizer(const std::filesystem::path& checkpoint);

// Complete checkpoints under `checkpoints_dir`, oldest first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& checkpoints_dir);
std::optional<std::filesystem::path> latest_checkpoint(
    const std::filesystem::path& checkpoints_dir);
// Deletes all but the newest `keep` checkpoints.
void prune_checkpoints(const std::filesystem::path& checkpoints_dir, int64_t keep);

}  // namespace masklm
