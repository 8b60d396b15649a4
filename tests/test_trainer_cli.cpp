// `masklm pretrain` and `masklm eval` as a user runs them: a real process stopped with
// SIGTERM writes a checkpoint and exits with 128 + 15, then --resume finishes the run;
// eval reads the checkpoint; export of a skip-corrupted run warns; user errors exit 1 with a
// message.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_test_support.h"
#include "model/safetensors.h"
#include "runtime/device.h"
#include "train/checkpoint.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;

const std::string kTiny = std::string(MASKLM_SOURCE_DIR) + "/configs/tiny.yaml";

using Output = testing::CliOutput;
using testing::run_cli;

size_t count_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

int64_t last_train_step(const std::filesystem::path& metrics) {
  std::ifstream in(metrics);
  int64_t step = -1;
  for (std::string line; std::getline(in, line);)
    if (const auto j = nlohmann::json::parse(line); j.at("kind") == "train") step = j.at("step");
  return step;
}

TEST(PretrainCli, SigtermCheckpointsAndResumeFinishes) {
  const auto dir = fresh_dir("cli_sigterm");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen((dir / "stdout.txt").c_str(), "w", stdout);
    std::freopen((dir / "stderr.txt").c_str(), "w", stderr);
    execl(MASKLM_CLI, MASKLM_CLI, "pretrain", "--config", kTiny.c_str(), "--out", dir.c_str(),
          "--threads", "1", "--set", "train.steps=100000", "train.log_every=1",
          "train.checkpoint_every=0", "train.eval_every=0", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Let it train a few steps, then ask it to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_lines(dir / "metrics.jsonl") < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed instead of a clean exit";
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);

  const auto checkpoints = dir / "checkpoints";
  const auto latest = latest_checkpoint(checkpoints);
  ASSERT_TRUE(latest.has_value()) << "no checkpoint after SIGTERM";
  const int64_t stopped_at = last_train_step(dir / "metrics.jsonl");
  EXPECT_GE(stopped_at, 3);
  EXPECT_EQ(*latest, checkpoint_path(checkpoints, stopped_at));  // the step it was in

  // A fresh run may not overwrite it; --resume (config from RUN_DIR/config.yaml) continues.
  const Output refused = run_cli("pretrain --config " + kTiny + " --out " + dir.string());
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.text.find("--resume"), std::string::npos) << refused.text;
  // Resuming under another recipe is refused before anything is written.
  const Output changed =
      run_cli("pretrain --out " + dir.string() + " --resume --threads 1 --set data.mask_rate=0.4");
  EXPECT_EQ(changed.status, 1);
  EXPECT_NE(changed.text.find("data.mask_rate: 0.15 -> 0.4"), std::string::npos) << changed.text;
  EXPECT_EQ(latest_checkpoint(checkpoints), latest);
  const int64_t target = stopped_at + 5;
  const Output resumed =
      run_cli("pretrain --out " + dir.string() +
              " --resume --threads 1 --set train.steps=" + std::to_string(target));
  ASSERT_EQ(resumed.status, 0) << resumed.text;
  EXPECT_NE(resumed.text.find("resumed from " + latest->string()), std::string::npos)
      << resumed.text;
  EXPECT_EQ(latest_checkpoint(checkpoints), checkpoint_path(checkpoints, target));
  EXPECT_EQ(last_train_step(dir / "metrics.jsonl"), target);

  // eval reads the checkpoint with its own config.json and the run's validation data.
  // --json: stdout is one JSON object (logs go to stderr).
  const Output eval = run_cli("eval --checkpoint " + checkpoint_path(checkpoints, target).string() +
                                  " --data synthetic --json --batches 2 --threads 1",
                              (dir / "eval_stderr.txt").string());
  ASSERT_EQ(eval.status, 0) << eval.text;
  const auto result = nlohmann::json::parse(eval.text);
  EXPECT_NEAR(result.at("perplexity").get<double>(), std::exp(result.at("loss").get<double>()),
              1e-9);
  EXPECT_GT(result.at("predictions").get<int64_t>(), 0);
  EXPECT_GE(result.at("accuracy").get<double>(), 0.0);
}

// A skip-corrupted run exports its encoder and MLM head, without the decoder, and says that
// the head's predictions are then not the run's.
TEST(ExportCli, SkipCorruptedRunExportsTheEncoderWithAWarning) {
  const auto dir = fresh_dir("cli_export_skip");
  const Output trained =
      run_cli("pretrain --config " + kTiny + " --out " + (dir / "run").string() +
              " --set train.steps=2 --set train.checkpoint_every=2 --set train.eval_every=0"
              " --set model.encoder.skip_corrupted=true --set model.decoder.layers=1");
  ASSERT_EQ(trained.status, 0) << trained.text;
  const auto checkpoint = checkpoint_path(dir / "run" / "checkpoints", 2);
  ASSERT_TRUE(std::filesystem::is_directory(checkpoint)) << trained.text;
  const Output exported =
      run_cli("export --checkpoint " + checkpoint.string() + " --out " + (dir / "hf").string());
  ASSERT_EQ(exported.status, 0) << exported.text;
  EXPECT_NE(exported.text.find("trained with model.encoder.skip_corrupted"), std::string::npos)
      << exported.text;
  const SafetensorsFile weights(dir / "hf" / "model.safetensors");
  int64_t encoder_tensors = 0;
  for (const std::string& name : weights.names()) {
    encoder_tensors += name.find("encoder.layer.") != std::string::npos;
    EXPECT_EQ(name.find("decoder.layer"), std::string::npos) << name;
  }
  EXPECT_GT(encoder_tensors, 0);
}

TEST(PretrainCli, UserErrorsExitOneWithAMessage) {
  const auto dir = fresh_dir("cli_errors");
  const Output bad_key =
      run_cli("pretrain --config " + kTiny + " --out " + dir.string() + " --set train.stepz=3");
  EXPECT_EQ(bad_key.status, 1);
  EXPECT_NE(bad_key.text.find("unknown config key 'train.stepz'"), std::string::npos)
      << bad_key.text;
  const Output no_config = run_cli("pretrain --out " + dir.string());
  EXPECT_EQ(no_config.status, 1);
  EXPECT_NE(no_config.text.find("--config"), std::string::npos) << no_config.text;
  if (!cuda_compiled() || cuda_devices().empty()) {
    // Refused before the run directory is touched, saying why.
    const auto cuda_dir = dir / "cuda";
    const std::string why = cuda_compiled() ? "no CUDA GPU is visible" : "built without CUDA";
    const Output cuda =
        run_cli("pretrain --config " + kTiny + " --out " + cuda_dir.string() + " --device cuda");
    EXPECT_EQ(cuda.status, 1);
    EXPECT_NE(cuda.text.find(why), std::string::npos) << cuda.text;
    EXPECT_FALSE(std::filesystem::exists(cuda_dir));
    const Output eval_cuda =
        run_cli("eval --checkpoint " + dir.string() + " --data synthetic --device cuda");
    EXPECT_EQ(eval_cuda.status, 1);
    EXPECT_NE(eval_cuda.text.find(why), std::string::npos) << eval_cuda.text;
  }
  const Output bad_data = run_cli("eval --checkpoint " + dir.string() + " --data shards");
  EXPECT_EQ(bad_data.status, 1);
}

}  // namespace
}  // namespace masklm
