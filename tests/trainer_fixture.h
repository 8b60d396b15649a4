// A small synthetic pretraining run for the trainer and checkpoint tests: a 1-layer model
// with hidden 32 on the synthetic task, built through the real recipe path (YAML text,
// --set style overrides, parse_run_config, open_training_data).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/host_mirror.h"
#include "runtime/file_io.h"
#include "train/checkpoint.h"
#include "train/config_file.h"
#include "train/run_config.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace masklm::testing {

inline const char* kSmallRecipe = R"(
model: {num_layers: 1, hidden_size: 32, num_heads: 2, intermediate_size: 64, max_position_embeddings: 16,
        hidden_dropout: 0.1, attention_dropout: 0.1, pre_layernorm: true}
train:
  steps: 8
  batch_size: 8
  micro_batch_size: 4
  seq_len: 16
  seed: 7
  lr: {peak: 3.0e-3, warmup_steps: 2, decay: linear}
  optimizer: {clip_norm: 1.0}
  log_every: 1
  eval_batches: 2
data: {source: synthetic, vocab_size: 24, period: 3, mask_rate: 0.2}
)";

struct SmallRun {
  RunConfig config;
  TrainingData data;
};

// The losses of the trainer's next n steps.
inline std::vector<double> run_steps(Trainer& trainer, int64_t n) {
  std::vector<double> losses;
  for (int64_t i = 0; i < n; ++i) losses.push_back(trainer.train_step().loss);
  return losses;
}

inline SmallRun small_run(const std::vector<std::string>& overrides = {}) {
  nlohmann::json tree = yaml_to_json(kSmallRecipe);
  for (const std::string& o : overrides) apply_override(tree, o);
  SmallRun run{parse_run_config(tree), {}};
  run.data = open_training_data(run.config);
  resolve_vocab_size(run.config, run.data.vocab_size, run.data.mask_token_id);
  return run;
}

// A host copy of an arena's F32 contents, whatever its device (alignment gaps included).
inline std::vector<float> arena_snapshot(const Arena& arena) {
  HostMirror mirror(arena);
  mirror.pull();
  const Tensor flat = mirror.flat(DType::F32);
  return std::vector<float>(flat.ptr<float>(), flat.ptr<float>() + flat.numel());
}

// A copy of every parameter (the flat buffer, alignment gaps included).
inline std::vector<float> param_snapshot(MlmModel& model) { return arena_snapshot(model.param_arena()); }

// One JSON value per line (metrics.jsonl).
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// A fresh empty directory under the system temp dir; `name` is unique per test, since
// ctest runs tests in parallel.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("masklm_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// One step of `run` (fp16), then a checkpoint in `dir` whose loss scaler holds `scale`.
inline void checkpoint_with_loss_scale(const SmallRun& run, const std::filesystem::path& dir,
                                       double scale, Device device = Device::CPU) {
  std::filesystem::path saved;
  {
    Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, nullptr, device);
    trainer.train_step();
    trainer.save_checkpoint();
    saved = checkpoint_path(trainer.checkpoints_dir(), 1) / "trainer_state.json";
  }
  nlohmann::json state = read_json_file(saved);
  state.at("loss_scaler").at("scale") = scale;
  write_file_atomic(saved, state.dump());
}

// 2n steps of one trainer (checkpointing after n, as runs do, into a folder beside `dir`)
// against n steps, a checkpoint in `dir` and n steps of a new trainer that resumes from it,
// all on `device`: the same losses, parameters and optimizer state, bit for bit, so neither
// the checkpoint nor the resume changes the run. Each trainer reads its own make_run(): a
// new process reopens the data, and the source keeps no state beyond the step.
inline void expect_bitwise_resume(const std::function<SmallRun()>& make_run,
                                  const std::filesystem::path& dir, int64_t n = 3,
                                  Device device = Device::CPU) {
  const auto trainer = [&](const SmallRun& run, const std::filesystem::path& run_dir) {
    return std::make_unique<Trainer>(run.config, *run.data.train, nullptr, run_dir, TrainerHooks{},
                                     nullptr, nullptr, device);
  };
  const SmallRun straight_run = make_run();
  const std::filesystem::path straight_dir = dir.string() + "_straight";
  std::filesystem::remove_all(straight_dir);
  const auto straight_trainer = trainer(straight_run, straight_dir);
  Trainer& straight = *straight_trainer;
  std::vector<double> expected = run_steps(straight, n);
  straight.save_checkpoint();
  for (double l : run_steps(straight, n)) expected.push_back(l);

  std::vector<double> losses;
  {
    const SmallRun first_run = make_run();
    const auto first = trainer(first_run, dir);
    losses = run_steps(*first, n);
    first->save_checkpoint();
  }
  const SmallRun second_run = make_run();
  const auto second_trainer = trainer(second_run, dir);
  Trainer& second = *second_trainer;
  ASSERT_TRUE(second.resume());
  EXPECT_EQ(second.step(), n);
  EXPECT_EQ(second.optimizer().steps_taken(), n);
  for (double l : run_steps(second, n)) losses.push_back(l);

  EXPECT_EQ(losses, expected);  // bit for bit
  EXPECT_EQ(param_snapshot(second.model()), param_snapshot(straight.model()));
  EXPECT_EQ(arena_snapshot(second.optimizer().state_arena()),
            arena_snapshot(straight.optimizer().state_arena()));
  // And not vacuously: the parameters moved.
  EXPECT_NE(param_snapshot(trainer(straight_run, "")->model()), param_snapshot(straight.model()));
}

}  // namespace masklm::testing
