// Sweeps: a sweep file expands into cells with their cell.json parameters, malformed files
// are errors naming the file, cell and key, and a tiny two-cell sweep on the synthetic task
// (with a GLUE fine-tuning grid and a SQuAD run) runs end to end into a directory that
// read_sweep and the report read; a sweep stopped mid-cell resumes that cell bit for bit, and
// finished cells are skipped.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "data_test_support.h"
#include "eval/report.h"
#include "eval/sweep_runner.h"
#include "expect_error.h"
#include "finetune_test_support.h"
#include "runtime/file_io.h"
#include "squad_test_support.h"
#include "train/finetune_scores.h"
#include "train/stop_signal.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;

const fs::path kConfigs = fs::path(MASKLM_SOURCE_DIR) / "configs";
const fs::path kWordPiece = fs::path(MASKLM_FIXTURE_DIR) / "tokenizer_wordpiece.json";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SweepSpec : public testing::TempDirTest {
 protected:
  SweepPlan load(const std::string& yaml) { return load_sweep(write_file("sweep.yaml", yaml)); }
  void expect_load_error(const std::string& yaml, std::initializer_list<std::string_view> parts) {
    expect_error([&] { load(yaml); }, parts);
  }
  const std::string corpus_base_ = "base: " + (kConfigs / "tiny-corpus.yaml").string() + "\n";
  const std::string synthetic_base_ = "base: " + (kConfigs / "tiny.yaml").string() + "\n";
};

TEST_F(SweepSpec, DecoupledRatesAndVariantsBecomeCellParameters) {
  const SweepPlan plan = load(corpus_base_ + R"(
set: {masking: {strategy: uniform}}
axes:
  - model.preset: [tiny, mini]
  - masking.corrupt_rate: [0.2, 0.4]
  - masking.predict_rate: [0.4]
  - variant:
      - {name: mask-only, set: {masking.corrupt_split: {mask: 1.0}}}
)");
  ASSERT_EQ(plan.cells.size(), 4u);
  EXPECT_EQ(plan.base, kConfigs / "tiny-corpus.yaml");
  const SweepCellPlan& c = plan.cells[2];
  EXPECT_EQ(c.name, "preset-mini_corrupt_rate-0.2_predict_rate-0.4_mask-only");
  EXPECT_EQ(c.params.model, "mini");
  EXPECT_EQ(c.params.seed, 0);
  EXPECT_DOUBLE_EQ(c.params.m_corr.value(), 0.2);
  EXPECT_DOUBLE_EQ(c.params.m_pred.value(), 0.4);
  EXPECT_FALSE(c.params.mask_rate.has_value());
  EXPECT_EQ(c.params.variant, "mask-only");
  EXPECT_EQ(c.steps, 250);
  EXPECT_EQ(c.overrides,
            (std::vector<std::string>{R"(masking={"strategy":"uniform"})", R"(model.preset="mini")",
                                      "masking.corrupt_rate=0.2", "masking.predict_rate=0.4",
                                      R"(masking.corrupt_split={"mask":1.0})"}));
}

TEST_F(SweepSpec, AxesOutsideTheCellFieldsNameTheVariant) {
  const SweepPlan plan = load(corpus_base_ + R"(
axes:
  - masking.mask_rate: [0.3]
  - masking.strategy: [uniform, span]
  - train.seed: [1, 2]
)");
  ASSERT_EQ(plan.cells.size(), 4u);
  const SweepCellPlan& c = plan.cells[2];
  EXPECT_EQ(c.name, "mask_rate-0.3_strategy-span_seed-1");
  EXPECT_EQ(c.params.variant, "strategy-span");
  EXPECT_EQ(c.params.seed, 1);
  EXPECT_DOUBLE_EQ(c.params.mask_rate.value(), 0.3);
  EXPECT_FALSE(c.params.m_corr.has_value());
  EXPECT_EQ(plan.cells[1].params.variant, "strategy-uniform");
}

TEST_F(SweepSpec, MalformedFilesAreErrorsNamingFileCellAndKey) {
  expect_load_error(synthetic_base_ + "axes: [{train.stepz: [1]}]\n",
                    {"sweep.yaml", "cell 'stepz-1'", "unknown config key 'train.stepz'"});
  expect_load_error(corpus_base_ + "axes: [{masking.mask_rat: [0.1]}]\n",
                    {"cell 'mask_rat-0.1'", "unknown config key 'masking.mask_rat'"});
  expect_load_error(synthetic_base_ + "axes: [{train.seed: []}]\n",
                    {"sweep.yaml", "grid axis 'train.seed' has no values"});
  expect_load_error(synthetic_base_ + "axes: []\n", {"'axes' is required"});
  expect_load_error("base: nope/missing.yaml\naxes: [{train.seed: [1]}]\n",
                    {"sweep.yaml", "base recipe 'nope/missing.yaml' does not exist"});
  expect_load_error(synthetic_base_ + "axis: [{train.seed: [1]}]\n", {"unknown config key 'axis'"});
  expect_load_error(synthetic_base_ + "axes: [{train.seed: [1], train.steps: [2]}]\n",
                    {"must be one key with its values"});
  expect_load_error(synthetic_base_ + "axes: [{masking.mask_rate: [0.4]}]\n",
                    {"cell 'mask_rate-0.4'", "vary 'data.mask_rate'"});
  expect_load_error(synthetic_base_ + "axes: [{variant: [{name: a/b, set: {}}]}]\n",
                    {"'variant'", "directory name"});
  expect_load_error(synthetic_base_ + "axes: [{variant: [{name: a}]}, {variant: [{name: b}]}]\n",
                    {"at most one 'variant' axis"});
  const std::string axes = "axes: [{train.seed: [1]}]\n";
  expect_load_error(
      synthetic_base_ + axes + "finetune: [{task: glue/sst2, data: d, set: {lr_peak: 1}}]\n",
      {"sweep.yaml", "unknown config key 'lr_peak'"});
  expect_load_error(
      synthetic_base_ + axes + "finetune: [{task: glue/sst2, data: d, grid: [{epochs: [0]}]}]\n",
      {"'epochs'", "positive"});
  expect_load_error(synthetic_base_ + axes + "finetune: [{task: glue/sts, data: d}]\n", {"sts"});
  expect_load_error(synthetic_base_ + axes + "finetune: [{task: glue/sst2}]\n",
                    {"'finetune[0].data' is required"});
  expect_load_error(
      synthetic_base_ + axes + "finetune: [{task: glue/sst2, data: d}, {task: SST-2, data: e}]\n",
      {"task 'SST-2' twice"});
  expect_load_error(synthetic_base_ + axes +
                        "finetune: [{task: squad/v1.1, data: d, grid: [{doc_stride: [0]}]}]\n",
                    {"sweep.yaml", "'doc_stride'", "positive"});
  expect_load_error(synthetic_base_ + axes + "finetune: [{task: squad/v3, data: d}]\n",
                    {"sweep.yaml", "unknown SQuAD task 'squad/v3'"});
}

TEST_F(SweepSpec, SquadEntriesAreReadBySquadsSettingsReader) {
  const SweepPlan plan = load(synthetic_base_ + R"(
axes: [{train.seed: [1]}]
finetune:
  - {task: squad/v2.0, data: d, set: {doc_stride: 64}, grid: [{null_threshold: [0, 1.5]}]}
)");
  ASSERT_EQ(plan.finetune.size(), 1u);
  const FineTuneTarget target = finetune_target({{}, plan.finetune[0].task, {}, {}});
  EXPECT_EQ(target.task, "squad_v2.0");
  const FineTuneGrid& grid = plan.finetune[0].grid;
  const std::vector<nlohmann::json> points =
      grid_point_settings(grid, expand_grid(grid.axes), target);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1]["null_threshold"], 1.5);
  EXPECT_EQ(points[1]["doc_stride"], 64);
  EXPECT_EQ(points[1]["max_length"], 384);  // SQuAD's default, not GLUE's 128
}

// Paths in sweep files are relative to the repository root, where users run them.
class SweepFiles : public ::testing::Test {
 protected:
  void SetUp() override { fs::current_path(MASKLM_SOURCE_DIR); }
  void TearDown() override { fs::current_path(cwd_); }
  const fs::path cwd_ = fs::current_path();
};

TEST_F(SweepFiles, EverySweepInConfigsLoadsAndChecksEveryCell) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kConfigs / "sweeps")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_FALSE(load_sweep(entry.path()).cells.empty());
    ++files;
  }
  EXPECT_GE(files, 6);
}

TEST_F(SweepFiles, ThePaperRateSweepAndTheCpuSweep) {
  const SweepPlan rates = load_sweep(kConfigs / "sweeps" / "paper-rates.yaml");
  std::vector<double> mask_rates;
  for (const SweepCellPlan& c : rates.cells) {
    EXPECT_EQ(c.params.model, "large");
    EXPECT_EQ(c.steps, 23000);
    mask_rates.push_back(c.params.mask_rate.value());
  }
  EXPECT_EQ(mask_rates, (std::vector<double>{0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8}));
  ASSERT_EQ(rates.finetune.size(), 4u);
  EXPECT_EQ(expand_grid(rates.finetune[0].grid.axes).size(), 15u);

  const SweepPlan cpu = load_sweep(kConfigs / "sweeps" / "cpu-small.yaml");
  EXPECT_EQ(cpu.cells.size(), 6u);
  EXPECT_EQ(cpu.cells[0].params.model, "tiny");
  EXPECT_EQ(cpu.cells[0].steps, 250);
  ASSERT_EQ(cpu.finetune.size(), 1u);
  EXPECT_EQ(cpu.finetune[0].task, "reuters-grain");

  const SweepPlan decoupled = load_sweep(kConfigs / "sweeps" / "paper-decoupled.yaml");
  ASSERT_EQ(decoupled.cells.size(), 9u);
  EXPECT_DOUBLE_EQ(decoupled.cells[7].params.m_corr.value(), 0.8);
  EXPECT_DOUBLE_EQ(decoupled.cells[7].params.m_pred.value(), 0.4);
}

// Two cells of a few steps on the synthetic task (vocabulary 512 so that the WordPiece fixture
// tokenizer fits the model for fine-tuning).
class SweepRun : public testing::TempDirTest {
 protected:
  fs::path sweep_file(bool finetune) {
    std::string yaml = "base: " + (kConfigs / "tiny.yaml").string() + R"(
set: {train.steps: 6, train.log_every: 3, train.eval_every: 0, train.checkpoint_every: 3,
      data.vocab_size: 512}
axes:
  - data.mask_rate: [0.15, 0.4]
)";
    if (finetune) {
      fs::create_directories(dir_ / "glue" / "SST-2");
      write_file("glue/SST-2/train.tsv", testing::sentiment_tsv(48, 0.5, 1));
      write_file("glue/SST-2/dev.tsv", testing::sentiment_tsv(20, 0.5, 2));
      fs::create_directories(dir_ / "squad");
      write_file("squad/train-v1.1.json",
                 testing::synthetic_squad(24, 1, SquadVersion::V1_1).dump());
      write_file("squad/dev-v1.1.json", testing::synthetic_squad(8, 2, SquadVersion::V1_1).dump());
      yaml += "finetune:\n  - {task: glue/sst2, data: " + (dir_ / "glue").string() +
              ", tokenizer: " + kWordPiece.string() +
              ",\n     set: {epochs: 1, batch_size: 16, max_length: 16, lr: 1.0e-3}," +
              " grid: [{seed: [1, 2]}]}\n" + "  - {task: squad/v1.1, data: " +
              (dir_ / "squad").string() + ", tokenizer: " + kWordPiece.string() +
              ",\n     set: {epochs: 1, batch_size: 16, max_length: 32, doc_stride: 16}}\n";
    }
    return write_file("sweep.yaml", yaml);
  }
  TrainOutcome run(const fs::path& file, const fs::path& out, FILE* terminal = nullptr) {
    return run_sweep(load_sweep(file), file, out, Device::CPU, terminal);
  }
};

TEST_F(SweepRun, CellsAreReadableByTheReport) {
  const fs::path file = sweep_file(true);
  ASSERT_EQ(run(file, dir_ / "out"), TrainOutcome::FINISHED);

  const std::vector<SweepCell> cells = read_sweep(dir_ / "out");
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].name, "mask_rate-0.15");
  EXPECT_EQ(cells[1].name, "mask_rate-0.4");
  for (const SweepCell& c : cells) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.params.model, "tiny");
    EXPECT_EQ(c.params.seed, 0);
    EXPECT_TRUE(c.has_metrics);
    EXPECT_EQ(c.train_loss.back().step, 6);
    ASSERT_EQ(c.val_loss.size(), 1u);
    // The cell's score is the median of the grid's two seeds, i.e. their mean.
    const fs::path grid = dir_ / "out" / c.name / "finetune" / "sst2" / "grid";
    const double a = read_task_scores(grid / "seed-1" / "finetune.json", "sst2")->at("accuracy");
    const double b = read_task_scores(grid / "seed-2" / "finetune.json", "sst2")->at("accuracy");
    EXPECT_DOUBLE_EQ(c.downstream.at("sst2").at("accuracy"), (a + b) / 2);
    // SQuAD, a single run: its scores as the run wrote them.
    const std::map<std::string, double> squad =
        read_task_scores(dir_ / "out" / c.name / "finetune" / "squad_v1.1" / "finetune.json",
                         "squad_v1.1")
            .value();
    EXPECT_EQ(squad.size(), 2u);  // exact, f1
    EXPECT_EQ(c.downstream.at("squad_v1.1"), squad);
    EXPECT_TRUE(fs::exists(dir_ / "out" / c.name / "done.json"));
  }
  EXPECT_DOUBLE_EQ(cells[1].params.mask_rate.value(), 0.4);

  const ReportFiles report = write_report(dir_ / "out");
  EXPECT_EQ(report.cells, 2);
  const std::string markdown = read_text(report.markdown);
  EXPECT_NE(markdown.find("sst2"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("squad_v1.1 f1"), std::string::npos) << markdown;
}

// A cell's single fine-tuning run records its settings like a grid point; rerunning the cell
// after the sweep file's `set:` for that task changed is an error, not a reuse of the old scores
// (finished cells are skipped, with a warning that the file changed).
TEST_F(SweepRun, ASingleFineTuningRunWithChangedSettingsIsNotReused) {
  const fs::path file = sweep_file(true);
  ASSERT_EQ(run(file, dir_ / "out"), TrainOutcome::FINISHED);
  const fs::path squad = dir_ / "out" / "mask_rate-0.15" / "finetune" / "squad_v1.1";
  EXPECT_EQ(read_json_file(squad / "settings.json")["doc_stride"], 16);

  // Unchanged settings: the finished run is reused.
  fs::remove(dir_ / "out" / "mask_rate-0.15" / "done.json");
  const std::string scores = read_text(squad / "finetune.json");
  ASSERT_EQ(run(file, dir_ / "out"), TrainOutcome::FINISHED);
  EXPECT_EQ(read_text(squad / "finetune.json"), scores);

  std::string yaml = read_text(file);
  const size_t at = yaml.find("doc_stride: 16");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 14, "doc_stride: 8");
  write_file("sweep.yaml", yaml);
  // Finished cells stay as they are, with a warning that the file changed.
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(run(file, dir_ / "out"), TrainOutcome::FINISHED);
  const std::string warned = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warned.find("differs from " + (dir_ / "out" / "sweep.yaml").string()),
            std::string::npos)
      << warned;
  EXPECT_NE(warned.find("finished earlier (2 of 2)"), std::string::npos) << warned;
  EXPECT_EQ(read_text(squad / "finetune.json"), scores);
  fs::remove(dir_ / "out" / "mask_rate-0.15" / "done.json");
  expect_error([&] { run(file, dir_ / "out"); },
               {squad.string(), "other settings", "\"doc_stride\":8"});
  EXPECT_EQ(read_text(squad / "finetune.json"), scores);
}

TEST_F(SweepRun, AStoppedCellResumesExactlyAndFinishedCellsAreSkipped) {
  const fs::path file = sweep_file(false);
  ASSERT_EQ(run(file, dir_ / "whole"), TrainOutcome::FINISHED);

  // A stop request ends the first cell after its first step, with a checkpoint.
  request_stop(SIGTERM);
  const TrainOutcome stopped = run(file, dir_ / "out");
  clear_stop_request();
  ASSERT_EQ(stopped, TrainOutcome::STOPPED);
  const fs::path first = dir_ / "out" / "mask_rate-0.15";
  EXPECT_TRUE(fs::exists(first / "checkpoints" / "step-00000001"));
  EXPECT_FALSE(fs::exists(first / "done.json"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "mask_rate-0.4"));

  ASSERT_EQ(run(file, dir_ / "out"), TrainOutcome::FINISHED);
  const std::vector<SweepCell> whole = read_sweep(dir_ / "whole"),
                               resumed = read_sweep(dir_ / "out");
  ASSERT_EQ(resumed.size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(resumed[i].val_loss.back().loss, whole[i].val_loss.back().loss);

  // Finished cells are neither run nor rewritten; a cell whose pretraining finished but that
  // lacks its done marker only gets the marker.
  const std::string metrics = read_text(first / "metrics.jsonl");
  const auto marked = fs::last_write_time(dir_ / "out" / "mask_rate-0.4" / "done.json");
  fs::remove(first / "done.json");
  FILE* terminal = std::tmpfile();
  ASSERT_EQ(run(file, dir_ / "out", terminal), TrainOutcome::FINISHED);
  std::rewind(terminal);
  std::string printed(4096, '\0');
  printed.resize(std::fread(printed.data(), 1, printed.size(), terminal));
  std::fclose(terminal);
  EXPECT_NE(printed.find("[sweep 1/2] mask_rate-0.15: starting"), std::string::npos) << printed;
  EXPECT_NE(printed.find("[sweep 2/2] mask_rate-0.4: finished earlier, skipped"), std::string::npos)
      << printed;
  EXPECT_EQ(printed.find("masklm pretrain"), std::string::npos) << printed;
  EXPECT_EQ(read_text(first / "metrics.jsonl"), metrics);
  EXPECT_TRUE(fs::exists(first / "done.json"));
  EXPECT_EQ(fs::last_write_time(dir_ / "out" / "mask_rate-0.4" / "done.json"), marked);
}

}  // namespace
}  // namespace masklm
