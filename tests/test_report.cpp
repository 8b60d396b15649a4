// Reports: summary statistics, axis ticks, SVG plots, and `masklm report`'s output for a
// synthetic sweep directory (values chosen so the tables can be checked by hand).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "data_test_support.h"
#include "eval/plot_ticks.h"
#include "eval/report.h"
#include "eval/summary_stats.h"
#include "eval/svg_plot.h"
#include "eval/sweep_results.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not found in:\n" << text;
}

TEST(SummaryStats, MeanMedianSampleStd) {
  const SummaryStats s = summarize(std::vector<double>{2, 4, 4, 4, 5, 5, 7, 9, NAN});
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.median, 4.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(32.0 / 7));  // squared deviations sum to 32
  EXPECT_EQ(s.min, 2);
  EXPECT_EQ(s.max, 9);
  EXPECT_EQ(format_mean_std(summarize(std::vector<double>{0.8, 0.84}), 4), "0.8200 ± 0.0283");
  EXPECT_EQ(format_mean_std(summarize(std::vector<double>{3}), 2), "3.00");
  EXPECT_EQ(format_mean_std(summarize(std::vector<double>{}), 2), "–");
}

TEST(PlotTicks, NiceLinearAndLogTicks) {
  const AxisTicks t = linear_ticks(0.15, 0.8);
  EXPECT_EQ(t.values, (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8}));
  EXPECT_EQ(format_tick(t.values[3]), "0.6");
  const AxisTicks narrow = linear_ticks(2.31, 2.87);  // step 0.2, the range widened to ticks
  EXPECT_DOUBLE_EQ(narrow.lo, 2.2);
  EXPECT_DOUBLE_EQ(narrow.hi, 3.0);
  EXPECT_EQ(narrow.values.size(), 5u);
  const AxisTicks point = linear_ticks(5, 5);  // a point gets a unit range around it
  EXPECT_LT(point.lo, 4.6);
  EXPECT_GT(point.hi, 5.4);
  EXPECT_EQ(log_ticks(1, 1e6).values, (std::vector<double>{1, 10, 100, 1000, 1e4, 1e5, 1e6}));
  EXPECT_EQ(log_ticks(1e-4, 1e-2).values.size(), 7u);  // 1-2-5 steps over two decades
  EXPECT_EQ(format_tick(0.15), "0.15");
  EXPECT_EQ(format_tick(250000), "250000");
  EXPECT_EQ(format_tick(2e7), "2e+07");
  expect_error([] { log_ticks(0, 1); }, "needs positive values");
}

TEST(SvgPlot, LinePlotHasAxesSeriesAndLegend) {
  LinePlot plot;
  plot.title = "accuracy <vs> rate";
  plot.x_label = "masking rate";
  plot.y_label = "accuracy";
  plot.series = {{"tiny", {0.15, 0.4, 0.8}, {0.7, 0.75, NAN}},
                 {"small & co", {0.15, 0.4}, {0.8, 0.82}}};
  const std::string svg = render_line_plot(plot);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  expect_contains(svg, "accuracy &lt;vs&gt; rate");  // text is escaped
  expect_contains(svg, ">small &amp; co</text>");
  expect_contains(svg, ">masking rate</text>");
  expect_contains(svg, ">0.4</text>");
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 20, true);
  size_t polylines = 0;
  for (size_t pos = 0; (pos = svg.find("<polyline", pos)) != std::string::npos; ++pos) ++polylines;
  EXPECT_EQ(polylines, 2u);
  plot.log_x = true;
  plot.series[0].x[0] = 0;
  expect_error([&] { render_line_plot(plot); }, "x = 0 on a log axis");
  expect_error([] { render_line_plot(LinePlot{}); }, "no finite points");
}

TEST(SvgPlot, HeatmapPrintsCellValues) {
  Heatmap map;
  map.title = "grid";
  map.columns = {"0.2", "0.4"};
  map.rows = {"0.4", "0.2"};
  map.values = {0.81, NAN, 0.79, 0.835};
  map.digits = 2;
  const std::string svg = render_heatmap(map);
  expect_contains(svg, ">0.81</text>");
  expect_contains(svg, ">0.83</text>");  // 0.835 printed with two decimals
  expect_contains(svg, "linearGradient");
  expect_contains(svg, "#f2f2f2");  // the empty cell
  map.values.pop_back();
  expect_error([&] { render_heatmap(map); }, "3 values for 2 rows x 2 columns");
}

class Report : public testing::TempDirTest {
 protected:
  void cell(const std::string& name, const std::string& params, const std::string& metrics,
            const std::string& finetune) const {
    fs::create_directories(dir_ / name);
    write_file(name + "/cell.json", params);
    if (!metrics.empty()) write_file(name + "/metrics.jsonl", metrics);
    if (!finetune.empty()) write_file(name + "/finetune.json", finetune);
  }
  // A trainer-style metrics.jsonl: train lines every 10 steps, one evaluation at the end.
  static std::string metrics(double final_loss, double val_loss, double val_accuracy) {
    std::string text;
    for (int step = 10; step <= 30; step += 10)
      text += fmt::format(R"({{"kind":"train","step":{},"loss":{},"accuracy":0.1,"lr":0.001}})"
                          "\n",
                          step, final_loss + (30 - step) * 0.1);
    return text +
           fmt::format(R"({{"kind":"eval","step":30,"loss":{},"perplexity":1,"accuracy":{}}})"
                       "\n",
                       val_loss, val_accuracy);
  }
  void make_sweep() const {
    const std::vector<std::tuple<std::string, double, int, double>> runs = {
        {"tiny", 0.15, 1, 0.80},  {"tiny", 0.15, 2, 0.84}, {"tiny", 0.4, 1, 0.83},
        {"small", 0.15, 1, 0.86}, {"small", 0.4, 1, 0.88}, {"small", 0.4, 2, 0.90}};
    for (const auto& [model, rate, seed, acc] : runs)
      cell(fmt::format("{}-r{}-s{}", model, rate, seed),
           fmt::format(R"({{"model":"{}","seed":{},"mask_rate":{}}})", model, seed, rate),
           metrics(2.0 + rate, 3.0 - rate, acc / 2),
           fmt::format(R"({{"sst2":{{"accuracy":{}}},"squad":{{"f1":{}}}}})", acc, 100 * acc));
    // Decoupled cells: m_corr x m_pred in {0.2, 0.4}^2 for the tiny model.
    for (double corr : {0.2, 0.4})
      for (double pred : {0.2, 0.4})
        cell(fmt::format("tiny-c{}-p{}", corr, pred),
             fmt::format(R"({{"model":"tiny","seed":1,"m_corr":{},"m_pred":{}}})", corr, pred),
             metrics(2, 2.5 + corr - pred, 0.3),
             fmt::format(R"({{"sst2":{{"accuracy":{}}}}})", 0.7 + pred - corr / 2));
    cell("small-r0.8-s1", R"({"model":"small","seed":1,"mask_rate":0.8})", "", "");  // not run yet
  }
};

TEST_F(Report, ReadsTheSweepDirectory) {
  make_sweep();
  // A killed run leaves a torn last line; a NaN loss is written as null.
  write_file(
      "tiny-r0.15-s1/metrics.jsonl",
      metrics(2.15, 2.85, 0.4) + "{\"kind\":\"train\",\"step\":40,\"loss\":null}\n{\"kind\":\"tra");
  const std::vector<SweepCell> cells = read_sweep(dir_);
  ASSERT_EQ(cells.size(), 11u);
  const SweepCell& c = cells[cells.size() - 2];  // sorted by name: ..., tiny-r0.15-s1, ...
  EXPECT_EQ(c.name, "tiny-r0.15-s2");
  EXPECT_EQ(c.params.model, "tiny");
  EXPECT_EQ(c.params.mask_rate, 0.15);
  EXPECT_EQ(c.train_loss.size(), 3u);
  EXPECT_DOUBLE_EQ(c.val_loss.at(0).loss, 2.85);
  EXPECT_DOUBLE_EQ(c.downstream.at("squad").at("f1"), 84);
  const SweepCell& torn = cells[cells.size() - 3];
  EXPECT_EQ(torn.name, "tiny-r0.15-s1");
  EXPECT_EQ(torn.train_loss.size(), 3u);  // the null loss and the torn line are left out
  const SweepCell& pending = cells[0];
  EXPECT_EQ(pending.name, "small-r0.15-s1");
  const auto decoupled = std::find_if(
      cells.begin(), cells.end(), [](const SweepCell& s) { return s.name == "tiny-c0.4-p0.2"; });
  ASSERT_NE(decoupled, cells.end());
  EXPECT_FALSE(decoupled->params.mask_rate.has_value());
  EXPECT_EQ(decoupled->params.m_corr, 0.4);
  const auto diagonal = std::find_if(cells.begin(), cells.end(),
                                     [](const SweepCell& s) { return s.name == "tiny-c0.2-p0.2"; });
  EXPECT_FALSE(diagonal->params.mask_rate.has_value());  // a pair is not a masking rate
}

TEST_F(Report, BadFilesNameTheFile) {
  cell("a", R"({"model":"tiny","seed":1,"mask_rate":0.2,"lr":1})", "", "");
  expect_error([&] { read_sweep(dir_); }, {"a/cell.json", "unknown config key 'lr'"});
  cell("a", R"({"model":"tiny","seed":1,"m_corr":0.2})", "", "");
  expect_error([&] { read_sweep(dir_); }, {"a/cell.json", "m_corr and m_pred come together"});
  cell("a", R"({"model":"tiny","seed":1,"mask_rate":0.2})",
       "{\"kind\":\"train\",\"step\":1,\"loss\":2}\n{oops\n{}\n", "");
  expect_error([&] { read_sweep(dir_); }, {"a/metrics.jsonl:2", "not a JSON object"});
  cell("a", R"({"model":"tiny","seed":1,"mask_rate":0.2})", "{\"kind\":\"train\",\"loss\":2}\n",
       "");
  expect_error([&] { read_sweep(dir_); }, {"a/metrics.jsonl:1", "integer \"step\""});
  cell("a", R"({"model":"tiny","seed":1,"mask_rate":0.2})", "\n",
       R"({"sst2":{"accuracy":"high"}})");
  expect_error([&] { read_sweep(dir_); },
               {"a/finetune.json", "sst2.accuracy must be a number (or null: NaN), got \"high\""});
  expect_error([&] { write_report(dir_ / "none"); }, "does not exist");
}

// finetune.json writes a NaN score (a constant STS-B prediction) as null: it reads as NaN, the
// tables leave it out of their statistics and show "–" where no seed has a number.
TEST_F(Report, NullScoresAreNaNAndLeftOut) {
  const auto params = [](double rate, int seed) {
    return fmt::format(R"({{"model":"tiny","seed":{},"mask_rate":{}}})", seed, rate);
  };
  cell("r0.15-s1", params(0.15, 1), "", R"({"stsb":{"pearson":0.5,"spearman":null}})");
  cell("r0.15-s2", params(0.15, 2), "", R"({"stsb":{"pearson":null,"spearman":null}})");
  cell("r0.4-s1", params(0.4, 1), "", R"({"stsb":{"pearson":0.7,"spearman":0.6}})");
  const std::vector<SweepCell> cells = read_sweep(dir_);
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_TRUE(std::isnan(cells[1].downstream.at("stsb").at("pearson")));
  EXPECT_DOUBLE_EQ(cells[0].downstream.at("stsb").at("pearson"), 0.5);
  write_report(dir_);
  const std::string md = read_text(dir_ / "report.md");
  const std::string header = "| model \\ masking rate | 0.15 | 0.4 |\n| --- | --- | --- |\n";
  expect_contains(md, "### stsb pearson\n\n" + header + "| tiny | 0.5000 (n=1) | 0.7000 (n=1) |\n");
  expect_contains(md, "### stsb spearman\n\n" + header + "| tiny | – | 0.6000 (n=1) |\n");
}

TEST_F(Report, WritesTablesAndPlots) {
  make_sweep();
  const ReportFiles files = write_report(dir_);
  EXPECT_EQ(files.cells, 11);
  EXPECT_EQ(files.cells_without_metrics, 1);
  const std::string md = read_text(dir_ / "report.md");
  // Tiny at 0.15: seeds score 0.80 and 0.84 -> mean 0.82, sample std 0.0283; tiny comes
  // before small (preset order).
  expect_contains(
      md,
      "### sst2 accuracy\n\n| model \\ masking rate | 0.15 | 0.4 |\n| --- | --- | --- |\n"
      "| tiny | 0.8200 ± 0.0283 (n=2) | 0.8300 (n=1) |\n"
      "| small | 0.8600 (n=1) | 0.8900 ± 0.0141 (n=2) |\n");
  expect_contains(md, "### squad f1");
  expect_contains(md, "| 89.00 ± 1.41 (n=2) |");  // percentages get two decimals
  // Pretraining: final train loss 2 + rate, validation loss 3 - rate.
  expect_contains(md,
                  "| tiny | 0.15 | 2 | 2.1500 ± 0.0000 (n=2) | 2.8500 ± 0.0000 (n=2) | 0.4100 ± "
                  "0.0141 (n=2) |");
  expect_contains(md, "| small | 0.8 | 1 | – | – | – |");
  expect_contains(
      md, "| tiny | m_corr 0.4 / m_pred 0.2 | 1 | 2.0000 (n=1) | 2.7000 (n=1) | 0.3000 (n=1) |");
  EXPECT_LT(md.find("| tiny | 0.4 |"),
            md.find("| tiny | m_corr 0.2 / m_pred 0.2 |"));  // rates first
  // The decoupled grid: highest m_corr on top; sst2 accuracy = 0.7 + pred - corr / 2.
  expect_contains(
      md,
      "### tiny: sst2 accuracy\n\n| m_corr \\ m_pred | 0.2 | 0.4 |\n| --- | --- | --- |\n"
      "| 0.4 | 0.7000 (n=1) | 0.9000 (n=1) |\n| 0.2 | 0.8000 (n=1) | 1.0000 (n=1) |\n");
  expect_contains(md, "### tiny: val loss");
  for (const char* plot :
       {"val_loss_tiny.svg", "train_loss_small.svg", "score_sst2_accuracy.svg",
        "score_squad_f1.svg", "heatmap_tiny__sst2_accuracy.svg", "heatmap_tiny___val_loss.svg"}) {
    EXPECT_TRUE(fs::exists(dir_ / "plots" / plot)) << plot;
    expect_contains(md, fmt::format("(plots/{})", plot));
  }
  EXPECT_EQ(files.plots.size(), 8u);  // 2 models x 2 loss plots, 2 scores, 2 heatmaps
  const std::string score_plot = read_text(dir_ / "plots/score_sst2_accuracy.svg");
  expect_contains(score_plot, ">tiny</text>");
  expect_contains(score_plot, ">small</text>");
  expect_contains(read_text(dir_ / "plots/heatmap_tiny__sst2_accuracy.svg"), ">0.900</text>");
}

}  // namespace
}  // namespace masklm
