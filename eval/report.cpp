#include "eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "eval/plot_ticks.h"
#include "eval/summary_stats.h"
#include "eval/svg_plot.h"
#include "eval/sweep_results.h"
#include "model/config.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

using Cells = std::vector<const SweepCell*>;

// Model sizes in preset order (tiny ... large); other names after them, alphabetically.
int model_rank(const std::string& model) {
  static const std::vector<std::string> presets = model_preset_names();
  return static_cast<int>(std::find(presets.begin(), presets.end(), model) - presets.begin());
}

// One line of a plot or row of a table: a model size with a masking variant.
struct Line {
  std::string model, variant;
  auto key() const { return std::tuple(model_rank(model), model, variant); }
  bool operator<(const Line& o) const { return key() < o.key(); }
  std::string name() const {
    return variant.empty() ? model : fmt::format("{} ({})", model, variant);
  }
};
Line line_of(const SweepCell& c) { return {c.params.model, c.params.variant}; }

bool is_decoupled(const CellParams& p) { return p.m_corr && *p.m_corr != *p.m_pred; }

// The masking of a cell, seeds aside: a rate, an (m_corr, m_pred) pair, or both.
struct Masking {
  double rate = -1, m_corr = -1, m_pred = -1;  // -1: not given
  // Rate-sweep cells first, then the decoupled grid.
  auto key() const { return std::tuple(rate < 0, rate, m_corr, m_pred); }
  bool operator<(const Masking& o) const { return key() < o.key(); }
  std::string name() const {
    const std::string pair =
        fmt::format("m_corr {} / m_pred {}", format_tick(m_corr), format_tick(m_pred));
    if (rate < 0) return pair;
    return m_corr < 0 ? format_tick(rate) : fmt::format("{} ({})", format_tick(rate), pair);
  }
};
Masking masking_of(const CellParams& p) {
  return {p.mask_rate.value_or(-1), p.m_corr.value_or(-1), p.m_pred.value_or(-1)};
}

// A number each cell may have: the final validation loss, or a downstream metric.
struct Measure {
  std::string task, metric;  // task empty: pretraining
  std::string name() const { return task.empty() ? metric : fmt::format("{} {}", task, metric); }
  std::optional<double> of(const SweepCell& c) const {
    if (task.empty()) {
      if (metric == "val loss")
        return c.val_loss.empty() ? std::nullopt : std::optional(c.val_loss.back().loss);
      if (metric == "train loss")
        return c.train_loss.empty() ? std::nullopt : std::optional(c.train_loss.back().loss);
      return c.val_accuracy;
    }
    const auto t = c.downstream.find(task);
    if (t == c.downstream.end()) return std::nullopt;
    const auto m = t->second.find(metric);
    return m == t->second.end() ? std::nullopt : std::optional(m->second);
  }
  bool operator<(const Measure& o) const {
    return std::tie(task, metric) < std::tie(o.task, o.metric);
  }
};

SummaryStats summarize_measure(const Cells& cells, const Measure& m) {
  std::vector<double> values;
  for (const SweepCell* c : cells)
    if (auto v = m.of(*c)) values.push_back(*v);
  return summarize(values);
}

// Enough decimals for fractions (0.8123), fewer for percentages and losses above 10.
int digits_for(const std::vector<const SweepCell*>& cells, const Measure& m) {
  double largest = 0;
  for (const SweepCell* c : cells)
    if (auto v = m.of(*c)) largest = std::max(largest, std::fabs(*v));
  return largest >= 10 ? 2 : 4;
}

std::string cell_text(const SummaryStats& s, int digits) {
  return s.n == 0 ? "–" : fmt::format("{} (n={})", format_mean_std(s, digits), s.n);
}

std::string file_name(std::string_view text) {
  std::string out;
  for (char c : text)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out;
}

class ReportWriter {
 public:
  ReportWriter(fs::path dir, std::vector<SweepCell> cells)
      : dir_(std::move(dir)), cells_(std::move(cells)) {
    files_.markdown = dir_ / "report.md";
    files_.cells = static_cast<int64_t>(cells_.size());
    for (const SweepCell& c : cells_) files_.cells_without_metrics += !c.has_metrics;
    fs::create_directories(dir_ / "plots");
  }

  ReportFiles write() {
    fmt::format_to(out(), "# Sweep report: {}\n\n", dir_.filename().string());
    fmt::format_to(out(),
                   "{} cells, {} without training metrics yet. Values are mean ± sample standard "
                   "deviation over "
                   "seeds (n = seeds with a value); losses are the last logged values.\n\n",
                   files_.cells, files_.cells_without_metrics);
    pretraining_section();
    downstream_section();
    heatmap_section();
    write_file_atomic(files_.markdown, md_);
    return files_;
  }

 private:
  std::back_insert_iterator<std::string> out() { return std::back_inserter(md_); }

  // Writes the plot and links it from report.md.
  void add_plot(const std::string& name, const std::string& svg, const std::string& caption) {
    const fs::path path = dir_ / "plots" / (file_name(name) + ".svg");
    write_file_atomic(path, svg);
    files_.plots.push_back(path);
    fmt::format_to(out(), "![{}](plots/{})\n\n", caption, path.filename().string());
  }

  void pretraining_section() {
    std::map<std::tuple<Line, Masking>, Cells> groups;
    for (const SweepCell& c : cells_) groups[{line_of(c), masking_of(c.params)}].push_back(&c);
    fmt::format_to(
        out(),
        "## Pretraining\n\n| model | masking | seeds | train loss | val loss | val accuracy |\n"
        "| --- | --- | --- | --- | --- | --- |\n");
    for (const auto& [key, cells] : groups) {
      fmt::format_to(out(), "| {} | {} | {} |", std::get<0>(key).name(), std::get<1>(key).name(),
                     cells.size());
      for (const char* metric : {"train loss", "val loss", "val accuracy"})
        fmt::format_to(out(), " {} |", cell_text(summarize_measure(cells, {"", metric}), 4));
      md_ += "\n";
    }
    md_ += "\n";
    std::set<std::string> models;
    for (const SweepCell& c : cells_) models.insert(c.params.model);
    for (const std::string& model : ordered_models(models)) {
      loss_curves(model, &SweepCell::val_loss, "validation loss");
      loss_curves(model, &SweepCell::train_loss, "training loss");
    }
  }

  static std::vector<std::string> ordered_models(const std::set<std::string>& models) {
    std::vector<std::string> v(models.begin(), models.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return std::tuple(model_rank(a), a) < std::tuple(model_rank(b), b);
    });
    return v;
  }

  // One series per masking of this model: the mean over the seeds that logged each step.
  void loss_curves(const std::string& model, std::vector<LossPoint> SweepCell::*curve,
                   const std::string& what) {
    std::map<std::tuple<std::string, Masking>, std::map<int64_t, std::pair<double, int>>> sums;
    for (const SweepCell& c : cells_) {
      if (c.params.model != model) continue;
      auto& by_step = sums[{c.params.variant, masking_of(c.params)}];
      for (const LossPoint& p : c.*curve) {
        by_step[p.step].first += p.loss;
        by_step[p.step].second += 1;
      }
    }
    LinePlot plot;
    plot.title = fmt::format("{}, {}", what, model);
    plot.x_label = "step";
    plot.y_label = what;
    plot.markers = false;
    for (const auto& [key, by_step] : sums) {
      if (by_step.empty()) continue;
      const auto& [variant, masking] = key;
      PlotSeries& s = plot.series.emplace_back();
      s.name = variant.empty() ? masking.name() : fmt::format("{} {}", variant, masking.name());
      for (const auto& [step, sum] : by_step) {
        s.x.push_back(static_cast<double>(step));
        s.y.push_back(sum.first / sum.second);
      }
    }
    if (plot.series.empty()) return;
    add_plot(fmt::format("{}_{}", what == "training loss" ? "train_loss" : "val_loss", model),
             render_line_plot(plot), plot.title);
  }

  std::set<Measure> downstream_measures() const {
    std::set<Measure> measures;
    for (const SweepCell& c : cells_)
      for (const auto& [task, metrics] : c.downstream)
        for (const auto& [metric, value] : metrics) measures.insert({task, metric});
    return measures;
  }

  void downstream_section() {
    const std::set<Measure> measures = downstream_measures();
    if (measures.empty()) return;
    md_ += "## Downstream scores against the masking rate\n\n";
    for (const Measure& m : measures) {
      std::map<Line, std::map<double, Cells>> grid;  // line -> rate -> cells
      std::set<double> rates;
      Cells all;
      for (const SweepCell& c : cells_) {
        if (!c.params.mask_rate || !m.of(c)) continue;
        grid[line_of(c)][*c.params.mask_rate].push_back(&c);
        rates.insert(*c.params.mask_rate);
        all.push_back(&c);
      }
      if (grid.empty()) continue;
      const int digits = digits_for(all, m);
      fmt::format_to(out(), "### {}\n\n| model \\ masking rate |", m.name());
      for (double r : rates) fmt::format_to(out(), " {} |", format_tick(r));
      md_ += "\n| --- |";
      for (size_t i = 0; i < rates.size(); ++i) md_ += " --- |";
      md_ += "\n";
      LinePlot plot;
      plot.title = fmt::format("{} against the masking rate", m.name());
      plot.x_label = "masking rate";
      plot.y_label = m.name();
      for (const auto& [line, by_rate] : grid) {
        fmt::format_to(out(), "| {} |", line.name());
        PlotSeries& s = plot.series.emplace_back();
        s.name = line.name();
        for (double r : rates) {
          const auto it = by_rate.find(r);
          const SummaryStats st =
              it == by_rate.end() ? SummaryStats{} : summarize_measure(it->second, m);
          fmt::format_to(out(), " {} |", cell_text(st, digits));
          if (st.n == 0) continue;
          s.x.push_back(r);
          s.y.push_back(st.mean);
        }
        md_ += "\n";
      }
      md_ += "\n";
      add_plot(fmt::format("score_{}_{}", m.task, m.metric), render_line_plot(plot), plot.title);
    }
  }

  void heatmap_section() {
    if (std::none_of(cells_.begin(), cells_.end(),
                     [](const SweepCell& c) { return is_decoupled(c.params); }))
      return;
    md_ +=
        "## m_corr × m_pred\n\nRows: corruption rate m_corr; columns: prediction rate m_pred.\n\n";
    std::map<Line, Cells> lines;
    for (const SweepCell& c : cells_)
      if (c.params.m_corr) lines[line_of(c)].push_back(&c);
    std::set<Measure> measures = downstream_measures();
    // The validation loss is measured at one fixed masking rate, so it compares across cells.
    measures.insert({"", "val loss"});
    for (const auto& [line, cells] : lines)
      for (const Measure& m : measures) heatmap(line, cells, m);
  }

  void heatmap(const Line& line, const Cells& cells, const Measure& m) {
    std::set<double> corr, pred;
    std::map<std::pair<double, double>, Cells> grid;
    for (const SweepCell* c : cells) {
      if (!m.of(*c)) continue;
      grid[{*c->params.m_corr, *c->params.m_pred}].push_back(c);
      corr.insert(*c->params.m_corr);
      pred.insert(*c->params.m_pred);
    }
    if (corr.size() < 2 && pred.size() < 2) return;  // a single cell is not a grid
    Heatmap map;
    map.title = fmt::format("{}: {}", line.name(), m.name());
    map.x_label = "m_pred (prediction rate)";
    map.y_label = "m_corr (corruption rate)";
    map.digits = digits_for(cells, m) - 1;  // cells are small: one decimal fewer than the tables
    for (double p : pred) map.columns.push_back(format_tick(p));
    fmt::format_to(out(), "### {}\n\n| m_corr \\ m_pred |", map.title);
    for (double p : pred) fmt::format_to(out(), " {} |", format_tick(p));
    md_ += "\n| --- |";
    for (size_t i = 0; i < pred.size(); ++i) md_ += " --- |";
    md_ += "\n";
    // Highest corruption rate on top, so m_corr grows upwards like a y axis.
    for (auto r = corr.rbegin(); r != corr.rend(); ++r) {
      map.rows.push_back(format_tick(*r));
      fmt::format_to(out(), "| {} |", format_tick(*r));
      for (double p : pred) {
        const auto it = grid.find({*r, p});
        const SummaryStats s = it == grid.end() ? SummaryStats{} : summarize_measure(it->second, m);
        map.values.push_back(s.n ? s.mean : std::nan(""));
        fmt::format_to(out(), " {} |", cell_text(s, digits_for(cells, m)));
      }
      md_ += "\n";
    }
    md_ += "\n";
    add_plot(fmt::format("heatmap_{}_{}_{}_{}", line.model, line.variant, m.task, m.metric),
             render_heatmap(map), map.title);
  }

  fs::path dir_;
  std::vector<SweepCell> cells_;
  ReportFiles files_;
  std::string md_;
};

}  // namespace

ReportFiles write_report(const fs::path& sweep_dir) {
  std::vector<SweepCell> cells = read_sweep(sweep_dir);
  MASKLM_CHECK(!cells.empty(), "no cells in '{}' (a cell is a subdirectory with a cell.json)",
               sweep_dir.string());
  return ReportWriter(sweep_dir, std::move(cells)).write();
}

}  // namespace masklm
