// Checkpoints: what a checkpoint directory holds, keep-last pruning, crash leftovers, and
// the bitwise-exact resume (2N steps == N steps, then a NEW trainer resumes, then N steps).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "expect_error.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "runtime/file_io.h"
#include "train/checkpoint.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;
using testing::small_run;

TEST(Checkpoint, ResumeInANewTrainerIsBitwiseExact) {
  // Two micro-batches per step (predictions differ between them), dropout on, clipping on:
  // every piece of state a resume needs is exercised.
  testing::expect_bitwise_resume([] { return small_run(); }, fresh_dir("resume_exact"));
}

// ZeRO-1 on one rank: the checkpoint gathers the optimizer state into host memory through
// the gradient buffer, and the resume scatters it back.
TEST(Checkpoint, ZeroOneResumeIsBitwiseExact) {
  testing::expect_bitwise_resume([] { return small_run({"train.zero=1"}); },
                                 fresh_dir("resume_exact_zero1"));
}

TEST(Checkpoint, DirectoryIsAHuggingFaceModelPlusTrainerState) {
  auto run = small_run();
  const auto dir = fresh_dir("contents");
  Trainer trainer(run.config, *run.data.train, nullptr, dir);
  trainer.train_step();
  trainer.save_checkpoint();
  const auto ckpt = checkpoint_path(trainer.checkpoints_dir(), 1);
  ASSERT_TRUE(std::filesystem::is_directory(ckpt));

  // Parameters under their Hugging Face names, loadable as a PyTorch-format file.
  SafetensorsFile weights(ckpt / "model.safetensors");
  EXPECT_EQ(weights.metadata().at("format"), "pt");
  const ParamLayout& layout = trainer.model().params();
  ASSERT_EQ(weights.names().size(), layout.table.size());
  EXPECT_TRUE(weights.has("roberta_prelayernorm.embeddings.word_embeddings.weight"));
  for (const ParamEntry& e : layout.table) {
    std::vector<float> copy(static_cast<size_t>(e.view.numel()));
    weights.read_into(e.name, host_tensor(copy, e.view.shape));
    EXPECT_EQ(0, std::memcmp(copy.data(), e.view.data, e.view.nbytes())) << e.name;
  }
  const ModelConfig hf = read_hf_config(ckpt / "config.json");
  EXPECT_EQ(hf.hidden_size, 32);
  EXPECT_TRUE(hf.pre_layernorm);
  EXPECT_EQ(hf.vocab_size, 24);

  // The resolved run configuration travels with the checkpoint.
  const RunConfig saved = parse_run_config(read_checkpoint_run_config(ckpt));
  EXPECT_EQ(run_config_to_json(saved), run_config_to_json(run.config));
}

// The partial log window travels in trainer_state.json field by field; one written before
// the corrupted-token count existed reads it as 0.
TEST(Checkpoint, TrainerStateKeepsTheLogWindow) {
  auto run = small_run();
  Trainer trainer(run.config, *run.data.train, nullptr, "");
  TrainerState state;
  state.step = 9;
  state.log_window = {.loss = 1.25, .accuracy = 0.5, .seconds = 3.5, .steps = 2,
                      .finite_steps = 1,
                      .counts = {.tokens = 256, .predictions = 40, .corrupted = 36}};
  const auto dir = fresh_dir("log_window") / "step-00000009";
  save_checkpoint(dir, trainer.model(), trainer.optimizer(), state, nlohmann::json::object());
  const LogWindow back = load_checkpoint(dir, trainer.model(), trainer.optimizer()).log_window;
  const LogWindow& w = state.log_window;
  EXPECT_EQ(back.loss, w.loss);
  EXPECT_EQ(back.accuracy, w.accuracy);
  EXPECT_EQ(back.seconds, w.seconds);
  EXPECT_EQ(back.steps, w.steps);
  EXPECT_EQ(back.finite_steps, w.finite_steps);
  EXPECT_EQ(back.counts.tokens, w.counts.tokens);
  EXPECT_EQ(back.counts.predictions, w.counts.predictions);
  EXPECT_EQ(back.counts.corrupted, w.counts.corrupted);

  nlohmann::json saved = read_json_file(dir / "trainer_state.json");
  ASSERT_EQ(saved.at("log_window").erase("corrupted"), 1u);
  std::ofstream(dir / "trainer_state.json") << saved.dump();
  const LogWindow older = load_checkpoint(dir, trainer.model(), trainer.optimizer()).log_window;
  EXPECT_EQ(older.counts.corrupted, 0);
  EXPECT_EQ(older.counts.predictions, w.counts.predictions);
}

TEST(Checkpoint, KeepsTheLastKAndIgnoresCrashLeftovers) {
  auto run = small_run({"train.keep_last=2"});
  const auto dir = fresh_dir("keep_last");
  Trainer trainer(run.config, *run.data.train, nullptr, dir);
  const auto root = trainer.checkpoints_dir();
  for (int i = 0; i < 4; ++i) {
    trainer.train_step();
    trainer.save_checkpoint();
  }
  ASSERT_EQ(list_checkpoints(root),
            (std::vector{checkpoint_path(root, 3), checkpoint_path(root, 4)}));

  // A crash in the middle of writing leaves step-N.tmp: never listed, never resumed from,
  // replaced when that step is written again.
  const auto torn = std::filesystem::path(checkpoint_path(root, 5).string() + ".tmp");
  std::filesystem::create_directories(torn);
  std::ofstream(torn / "model.safetensors") << "torn";
  EXPECT_EQ(latest_checkpoint(root), checkpoint_path(root, 4));
  trainer.train_step();
  trainer.save_checkpoint();
  EXPECT_FALSE(std::filesystem::exists(torn));
  EXPECT_EQ(latest_checkpoint(root), checkpoint_path(root, 5));
  EXPECT_EQ(list_checkpoints(root).size(), 2u);
}

TEST(Checkpoint, ModelOfAnotherShapeIsRejectedByName) {
  auto run = small_run();
  const auto dir = fresh_dir("mismatch");
  {
    Trainer trainer(run.config, *run.data.train, nullptr, dir);
    trainer.save_checkpoint();
  }
  auto wider = small_run({"model.intermediate_size=96"});
  Trainer other(wider.config, *wider.data.train, nullptr, dir);
  testing::expect_error([&] { other.resume(); }, "intermediate.dense.weight");
}

TEST(Checkpoint, NoCheckpointMeansNoResume) {
  auto run = small_run();
  Trainer trainer(run.config, *run.data.train, nullptr, fresh_dir("none"));
  EXPECT_FALSE(trainer.resume());
  EXPECT_EQ(trainer.step(), 0);
}

}  // namespace
}  // namespace masklm
