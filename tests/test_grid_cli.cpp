// `masklm sweep` and `masklm finetune` as a user runs them: --dry-run lists a sweep's cells
// without running or writing anything; a sweep file or a --grid value that is wrong exits 1
// with a message naming the file, the cell and the key, before anything is written, and so
// does `finetune --device cuda` where no GPU can be used; a fine-tuning run prints a line
// per epoch and its dev scores.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "cli_test_support.h"
#include "data/tokenizer.h"
#include "finetune_test_support.h"
#include "model_test_support.h"
#include "runtime/device.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_cli;

TEST(SweepCli, DryRunListsTheCpuSmallCells) {
  const fs::path out = fresh_dir("cli_sweep_dry") / "out";
  // Sweep files name paths relative to the repository root.
  const testing::CliOutput r =
      run_cli("sweep --grid configs/sweeps/cpu-small.yaml --out " + out.string() + " --dry-run", "",
              MASKLM_SOURCE_DIR);
  ASSERT_EQ(r.status, 0) << r.text;
  // 15/40/80% masking (outer axis) x seeds 1, 2, each cell of the tiny model for 250 steps.
  int line = 0;
  for (const char* rate : {"0.15", "0.4", "0.8"})
    for (const char* seed : {"1", "2"})
      EXPECT_NE(r.text.find(fmt::format("{:>4}  mask_rate-{}_seed-{}  (model tiny, seed {}, "
                                        "mask_rate {}; 250 steps)\n",
                                        ++line, rate, seed, seed, rate)),
                std::string::npos)
          << r.text;
  EXPECT_EQ(r.text.find("   7  "), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("each cell then fine-tunes on reuters-grain (3 runs)"), std::string::npos)
      << r.text;
  EXPECT_FALSE(fs::exists(out));
}

TEST(SweepCli, ABadSweepFileExitsOneNamingTheFileCellAndKey) {
  const fs::path dir = fresh_dir("cli_sweep_bad");
  const fs::path file = dir / "bad.yaml";
  std::ofstream(file) << "base: " << MASKLM_SOURCE_DIR << "/configs/tiny.yaml\n"
                      << "axes: [{train.stepz: [5]}]\n";
  const testing::CliOutput r =
      run_cli("sweep --grid " + file.string() + " --out " + (dir / "out").string());
  EXPECT_EQ(r.status, 1);
  for (const std::string& part :
       {file.string(), std::string("cell 'stepz-5'"), std::string("'train.stepz'")})
    EXPECT_NE(r.text.find(part), std::string::npos) << part << " not in: " << r.text;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// The grid is checked before the checkpoint is read, so empty directories stand in for it.
TEST(FineTuneGridCli, AMalformedGridValueExitsOneNamingIt) {
  const fs::path dir = fresh_dir("cli_finetune_grid");
  fs::create_directories(dir / "checkpoint");
  fs::create_directories(dir / "data");
  const std::string common = "finetune --checkpoint " + (dir / "checkpoint").string() + " --data " +
                             (dir / "data").string() + " --out " + (dir / "out").string() +
                             " --task ";
  const testing::CliOutput no_values = run_cli(common + "glue/sst2 --grid lr");
  EXPECT_EQ(no_values.status, 1);
  EXPECT_NE(no_values.text.find("--grid 'lr'"), std::string::npos) << no_values.text;
  EXPECT_NE(no_values.text.find("key=value1,value2"), std::string::npos) << no_values.text;

  const testing::CliOutput not_a_number =
      run_cli(common + "squad/v1.1 --grid lr=1e-5,fast --grid seed=1,2");
  EXPECT_EQ(not_a_number.status, 1);
  EXPECT_NE(not_a_number.text.find(
                "grid point 'lr-fast_seed-1': config key 'lr' must be a number, got \"fast\""),
            std::string::npos)
      << not_a_number.text;

  const testing::CliOutput squad_key = run_cli(common + "squad/v1.1 --grid doc_stride=64,0");
  EXPECT_EQ(squad_key.status, 1);
  EXPECT_NE(squad_key.text.find("grid point 'doc_stride-0': config key 'doc_stride' must be "
                                "positive, got 0"),
            std::string::npos)
      << squad_key.text;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// --device cuda where no GPU can be used is refused first, saying why, with or without a grid.
TEST(FineTuneCli, ADeviceThatIsMissingExitsOneBeforeAnythingIsWritten) {
  if (cuda_compiled() && !cuda_devices().empty()) GTEST_SKIP() << "a GPU is present";
  const fs::path dir = fresh_dir("cli_finetune_device");
  fs::create_directories(dir / "checkpoint");
  fs::create_directories(dir / "data");
  const std::string why = cuda_compiled() ? "no CUDA GPU is visible" : "built without CUDA";
  for (const std::string grid : {"", " --grid seed=1,2"}) {
    const testing::CliOutput r =
        run_cli("finetune --checkpoint " + (dir / "checkpoint").string() + " --data " +
                (dir / "data").string() + " --out " + (dir / "out").string() +
                " --task glue/sst2 --device cuda" + grid);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.text.find(why), std::string::npos) << r.text;
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// A run in fp16 (the CPU emulates it): a line per epoch with its mean loss and gradient
// norm, the dev score, and the scores written.
TEST(FineTuneCli, RunsInFp16AndPrintsEachEpoch) {
  const fs::path dir = fresh_dir("cli_finetune_fp16");
  const fs::path wordpiece = fs::path(MASKLM_FIXTURE_DIR) / "tokenizer_wordpiece.json";
  ModelConfig c = testing::small_config(false);
  c.vocab_size = Tokenizer::load(wordpiece)->vocab_size();
  const fs::path checkpoint = testing::write_pretrained_run(dir / "run", c, wordpiece);
  fs::create_directories(dir / "glue" / "SST-2");
  std::ofstream(dir / "glue" / "SST-2" / "train.tsv") << testing::sentiment_tsv(64, 0.5, 1);
  std::ofstream(dir / "glue" / "SST-2" / "dev.tsv") << testing::sentiment_tsv(20, 0.5, 2);
  const testing::CliOutput out =
      run_cli("finetune --checkpoint " + checkpoint.string() + " --task glue/sst2 --data " +
              (dir / "glue").string() + " --out " + (dir / "out").string() +
              " --set epochs=2 --set batch_size=16 --set max_length=16 --set lr=2e-3"
              " --set precision=fp16");
  ASSERT_EQ(out.status, 0) << out.text;
  for (const char* epoch : {"1", "2"})
    EXPECT_TRUE(
        std::regex_search(out.text, std::regex(std::string("epoch ") + epoch +
                                               R"( train loss \d+\.\d{4} grad norm \d+\.\d{3})")))
        << out.text;
  EXPECT_TRUE(std::regex_search(out.text, std::regex(R"(dev accuracy \d\.\d{4})"))) << out.text;
  EXPECT_TRUE(fs::exists(dir / "out" / "finetune.json"));
}

}  // namespace
}  // namespace masklm
