// Fine-tuning grids: --grid parsing and cartesian expansion (counts, names, order), the
// summary over seeds against hand-computed statistics, and resuming (finished points are
// neither run nor rewritten). Points run a stand-in for fine-tuning that writes known scores.
#include <gtest/gtest.h>

#include <cmath>

#include "data_test_support.h"
#include "expect_error.h"
#include "runtime/file_io.h"
#include "train/finetune_grid.h"
#include "train/finetune_options.h"
#include "train/finetune_scores.h"
#include "train/stop_signal.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::expect_error;

std::vector<std::string> names(const std::vector<GridPoint>& points) {
  std::vector<std::string> out;
  for (const GridPoint& p : points) out.push_back(p.name);
  return out;
}

TEST(ConfigGrid, ExpandsTheCartesianProductLastAxisFastest) {
  const std::vector<GridAxis> axes = {parse_grid_axis("lr=1e-5,2e-5,3e-5"),
                                      parse_grid_axis("seed=1,2"), parse_grid_axis("epochs=2,3")};
  const std::vector<GridPoint> points = expand_grid(axes);
  ASSERT_EQ(points.size(), 12u);
  EXPECT_EQ(names(points)[0], "lr-1e-05_seed-1_epochs-2");
  EXPECT_EQ(names(points)[1], "lr-1e-05_seed-1_epochs-3");
  EXPECT_EQ(names(points)[2], "lr-1e-05_seed-2_epochs-2");
  EXPECT_EQ(names(points)[5], "lr-2e-05_seed-1_epochs-3");
  EXPECT_EQ(names(points)[11], "lr-3e-05_seed-2_epochs-3");
  EXPECT_EQ(points[5].choices, (std::vector<size_t>{1, 0, 1}));

  json tree = {{"lr", 0.1}, {"batch_size", 8}};
  apply_grid_point(tree, axes, points[5]);
  EXPECT_EQ(tree, json::parse(R"({"lr": 2e-5, "seed": 1, "epochs": 3, "batch_size": 8})"));
  EXPECT_TRUE(tree["seed"].is_number_integer());
}

TEST(ConfigGrid, DottedKeysAreLabelledByTheirLastPartAndSetNested) {
  const std::vector<GridAxis> axes = {value_axis("model.preset", json{"tiny", "mini"}),
                                      value_axis("masking.mask_rate", json{0.15, 0.4})};
  const std::vector<GridPoint> points = expand_grid(axes);
  EXPECT_EQ(names(points),
            (std::vector<std::string>{"preset-tiny_mask_rate-0.15", "preset-tiny_mask_rate-0.4",
                                      "preset-mini_mask_rate-0.15", "preset-mini_mask_rate-0.4"}));
  json tree = json::object();
  apply_grid_point(tree, axes, points[2]);
  EXPECT_EQ(tree, json::parse(R"({"model": {"preset": "mini"}, "masking": {"mask_rate": 0.15}})"));
}

TEST(ConfigGrid, MalformedAxesAreErrors) {
  expect_error([] { parse_grid_axis("lr"); }, {"--grid 'lr'", "key=value1,value2"});
  expect_error([] { parse_grid_axis("lr="); }, "key=value1,value2");
  expect_error([] { parse_grid_axis("=1,2"); }, "key=value1,value2");
  expect_error([] { value_axis("lr", json::array()); }, "grid axis 'lr' has no values");
  expect_error([] { value_axis("lr", json(0.1)); }, {"'lr'", "list"});
  expect_error([] { parse_grid_axis("data.dir=a/b"); }, {"'data.dir'", "directory name"});
  expect_error([] { value_axis("m", json::parse(R"([{"mask": 1}])")); }, {"'m'", "not a scalar"});
  // 1 and 1.0 read differently but would name the same directory.
  expect_error([] { expand_grid({parse_grid_axis("epochs=1,1.0")}); }, "both named 'epochs-1'");
  expect_error([] { expand_grid({}); }, "at least one axis");
}

// Two learning rates x three seeds with hand-picked scores. Both configurations have mean
// accuracy 0.84; the medians (0.82, 0.84) pick the second.
TEST(FineTuneGridSummary, StatisticsPerConfigurationOverSeeds) {
  const std::vector<GridAxis> axes = {parse_grid_axis("lr=1e-5,2e-5"),
                                      parse_grid_axis("seed=1,2,3")};
  const std::vector<GridPoint> points = expand_grid(axes);
  const std::vector<std::map<std::string, double>> scores = {
      {{"accuracy", 0.80}, {"f1", 0.70}}, {{"accuracy", 0.90}, {"f1", 0.75}},
      {{"accuracy", 0.82}, {"f1", 0.72}}, {{"accuracy", 0.85}, {"f1", 0.60}},
      {{"accuracy", 0.83}, {"f1", 0.66}}, {{"accuracy", 0.84}, {"f1", 0.64}}};
  const FineTuneGridSummary s = summarize_finetune_grid(axes, points, scores, "mrpc", "accuracy");
  ASSERT_EQ(s.configurations.size(), 2u);
  const GridConfiguration& first = s.configurations[0];
  EXPECT_EQ(first.name, "lr-1e-05");
  EXPECT_EQ(first.settings, json::parse(R"({"lr": 1e-5})"));
  EXPECT_EQ(first.points,
            (std::vector<std::string>{"lr-1e-05_seed-1", "lr-1e-05_seed-2", "lr-1e-05_seed-3"}));
  const SummaryStats& a = first.metrics.at("accuracy");
  EXPECT_EQ(a.n, 3);
  EXPECT_NEAR(a.mean, 0.84, 1e-12);
  EXPECT_NEAR(a.median, 0.82, 1e-12);
  EXPECT_NEAR(a.std, std::sqrt(0.0028), 1e-12);  // deviations -0.04, 0.06, -0.02: 0.0056 / 2
  EXPECT_NEAR(first.metrics.at("f1").median, 0.72, 1e-12);
  const SummaryStats& b = s.configurations[1].metrics.at("accuracy");
  EXPECT_NEAR(b.mean, 0.84, 1e-12);
  EXPECT_NEAR(b.median, 0.84, 1e-12);
  EXPECT_NEAR(b.std, 0.01, 1e-12);
  EXPECT_EQ(s.best, 1u);
  const std::string table = format_grid_summary(s);
  EXPECT_NE(table.find("lr-1e-05         3    0.8400    0.8200    0.0529\n"), std::string::npos)
      << table;
  EXPECT_NE(table.find("lr-2e-05         3    0.8400    0.8400    0.0100  <- best"),
            std::string::npos)
      << table;
}

TEST(FineTuneGridSummary, WithoutASeedAxisEachConfigurationIsOnePoint) {
  const std::vector<GridAxis> axes = {parse_grid_axis("epochs=2,3")};
  const FineTuneGridSummary s = summarize_finetune_grid(
      axes, expand_grid(axes), {{{"mcc", 0.3}}, {{"mcc", NAN}}}, "cola", "mcc");
  EXPECT_EQ(s.configurations[1].metrics.at("mcc").n, 0);
  EXPECT_EQ(s.best, 0u);  // a NaN median never wins
  // A configuration without a finite score shows no statistics (not zeros).
  const std::string table = format_grid_summary(s);
  EXPECT_NE(table.find("epochs-3" + std::string(9, ' ') + "0" + std::string(9, ' ') + "–" +
                       std::string(9, ' ') + "–" + std::string(9, ' ') + "–\n"),
            std::string::npos)
      << table;
  // ... and is not marked best when no configuration has a score.
  const FineTuneGridSummary none = summarize_finetune_grid(
      axes, expand_grid(axes), {{{"mcc", NAN}}, {{"mcc", NAN}}}, "cola", "mcc");
  EXPECT_EQ(format_grid_summary(none).find("<- best"), std::string::npos)
      << format_grid_summary(none);
  const std::vector<GridAxis> seeds = {parse_grid_axis("seed=1,2")};
  EXPECT_EQ(summarize_finetune_grid(seeds, expand_grid(seeds), {{{"mcc", 0.3}}, {{"mcc", 0.5}}},
                                    "cola", "mcc")
                .configurations[0]
                .name,
            "all");
}

class FineTuneScores : public testing::TempDirTest {};

// A constant STS-B prediction has no Pearson correlation: written as null, read back as NaN, so
// a grid point with it is finished and its summary leaves the NaN out.
TEST_F(FineTuneScores, NaNIsWrittenAsNullAndReadBackAsNaN) {
  const fs::path file = dir_ / "finetune.json";
  write_task_scores(file, "stsb", {{"pearson", NAN}, {"spearman", 0.5}});
  EXPECT_TRUE(read_json_file(file)["stsb"]["pearson"].is_null());
  const std::map<std::string, double> scores = read_task_scores(file, "stsb").value();
  EXPECT_TRUE(std::isnan(scores.at("pearson")));
  EXPECT_EQ(scores.at("spearman"), 0.5);
  write_file("finetune.json", R"({"stsb": {"pearson": "none"}})");
  expect_error([&] { read_task_scores(file, "stsb"); },
               {"finetune.json", "stsb.pearson must be a number (or null: NaN)"});
}

class FineTuneGridRun : public testing::TempDirTest {
 protected:
  // Scores that identify the point: accuracy = 1000·lr + seed/100.
  FineTuneTarget stand_in() {
    return {"sst2", "accuracy",
            [](const json& settings) {
              return finetune_options_to_json(parse_finetune_options(settings));
            },
            [this](const json& resolved, const fs::path& out) {
              const FineTuneOptions o = parse_finetune_options(resolved);
              runs_.push_back(out.filename().string());
              write_task_scores(out / "finetune.json", "sst2",
                                {{"accuracy", 1000 * o.lr + static_cast<double>(o.seed) / 100}});
            }};
  }
  FineTuneGrid grid() const {
    return {json{{"batch_size", 4}},
            {parse_grid_axis("lr=1e-4,2e-4"), parse_grid_axis("seed=1,2,3")}};
  }
  std::vector<std::string> runs_;
};

TEST_F(FineTuneGridRun, WritesEveryPointTheSummaryAndTheBestMedians) {
  const std::optional<FineTuneGridSummary> s = run_finetune_grid(grid(), stand_in(), dir_, nullptr);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(runs_.size(), 6u);
  EXPECT_EQ(read_json_file(dir_ / "grid" / "lr-0.0002_seed-3" / "settings.json")["batch_size"],
            json(4));
  EXPECT_NEAR(read_task_scores(dir_ / "grid" / "lr-0.0002_seed-3" / "finetune.json", "sst2")
                  ->at("accuracy"),
              0.23, 1e-12);
  // lr 2e-4 scores 0.21, 0.22, 0.23: median 0.22.
  EXPECT_EQ(s->configurations[s->best].name, "lr-0.0002");
  EXPECT_NEAR(read_task_scores(dir_ / "finetune.json", "sst2")->at("accuracy"), 0.22, 1e-12);
  const json summary = read_json_file(dir_ / "grid_summary.json");
  EXPECT_EQ(summary["best"], json("lr-0.0002"));
  EXPECT_EQ(summary["selected_by"], json("median"));
  EXPECT_NEAR(summary["configurations"][0]["metrics"]["accuracy"]["mean"].get<double>(), 0.12,
              1e-12);
  EXPECT_NEAR(summary["configurations"][0]["metrics"]["accuracy"]["std"].get<double>(), 0.01,
              1e-12);
}

// A configuration whose every seed scored NaN has null statistics in grid_summary.json,
// not zeros that read as a score of 0.
TEST_F(FineTuneGridRun, ConfigurationsWithoutFiniteScoresHaveNullStatistics) {
  FineTuneTarget target = stand_in();
  const auto run = target.run;
  target.run = [run](const json& resolved, const fs::path& out) {
    run(resolved, out);
    if (parse_finetune_options(resolved).lr < 1.5e-4)
      write_task_scores(out / "finetune.json", "sst2", {{"accuracy", NAN}});
  };
  ASSERT_TRUE(run_finetune_grid(grid(), target, dir_, nullptr).has_value());
  const json summary = read_json_file(dir_ / "grid_summary.json");
  const json& stats = summary["configurations"][0]["metrics"]["accuracy"];
  EXPECT_EQ(stats["n"], json(0));
  for (const char* key : {"mean", "median", "std", "min", "max"})
    EXPECT_TRUE(stats[key].is_null()) << key << ": " << stats[key];
  EXPECT_EQ(summary["best"], json("lr-0.0002"));
  EXPECT_NEAR(summary["configurations"][1]["metrics"]["accuracy"]["median"].get<double>(), 0.22,
              1e-12);
}

TEST_F(FineTuneGridRun, RerunSkipsFinishedPointsAndRunsTheRest) {
  ASSERT_TRUE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  const fs::path kept = dir_ / "grid" / "lr-0.0001_seed-1" / "finetune.json";
  const auto written = fs::last_write_time(kept);
  // A point killed before its scores were written has only its settings.
  fs::remove(dir_ / "grid" / "lr-0.0002_seed-2" / "finetune.json");
  runs_.clear();
  ASSERT_TRUE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  EXPECT_EQ(runs_, std::vector<std::string>{"lr-0.0002_seed-2"});
  EXPECT_EQ(fs::last_write_time(kept), written);
  EXPECT_NEAR(read_task_scores(dir_ / "finetune.json", "sst2")->at("accuracy"), 0.22, 1e-12);
}

// Settings recorded before a key existed (here `precision`) read with its default, so a
// finished point is still reused; recorded settings that no longer read are an error.
TEST_F(FineTuneGridRun, RecordedSettingsAreReadByTodaysReader) {
  ASSERT_TRUE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  const fs::path recorded = dir_ / "grid" / "lr-0.0001_seed-1" / "settings.json";
  json older = read_json_file(recorded);
  ASSERT_EQ(older.erase("precision"), 1u);
  write_file_atomic(recorded, older.dump());
  runs_.clear();
  ASSERT_TRUE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  EXPECT_TRUE(runs_.empty());
  older["retired_key"] = 1;
  write_file_atomic(recorded, older.dump());
  expect_error([&] { run_finetune_grid(grid(), stand_in(), dir_, nullptr); },
               {"lr-0.0001_seed-1", "no longer read", "retired_key", "another --out"});
}

TEST_F(FineTuneGridRun, AStopRequestEndsTheGridBetweenPoints) {
  request_stop(2);
  runs_.clear();
  EXPECT_FALSE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  clear_stop_request();
  EXPECT_TRUE(runs_.empty());
  EXPECT_FALSE(fs::exists(dir_ / "grid_summary.json"));
}

TEST_F(FineTuneGridRun, ChangedSettingsForAFinishedPointAreAnError) {
  ASSERT_TRUE(run_finetune_grid(grid(), stand_in(), dir_, nullptr).has_value());
  FineTuneGrid changed = grid();
  changed.settings["batch_size"] = 8;
  expect_error([&] { run_finetune_grid(changed, stand_in(), dir_, nullptr); },
               {"lr-0.0001_seed-1", "other settings", "\"batch_size\":8", "another --out"});
  changed.settings["batch_sise"] = 8;
  expect_error([&] { run_finetune_grid(changed, stand_in(), dir_, nullptr); },
               "unknown config key 'batch_sise'");
}

}  // namespace
}  // namespace masklm
