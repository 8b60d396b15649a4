#include "eval/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "eval/plot_ticks.h"
#include "runtime/error.h"

namespace masklm {

namespace {

constexpr double kWidth = 760, kHeight = 460;
constexpr double kLeft = 78, kTop = 44, kBottom = 62;
constexpr double kLegendWidth = 190;  // right of the plot area, for series names or the colour bar
constexpr const char* kFont = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

// Tableau's 10 categorical colours (matplotlib's default cycle): distinct and familiar.
constexpr std::array<const char*, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Frame {
  double x0, y0, x1, y1;  // plot area in pixels; y grows downwards
};

std::string text(double x, double y, std::string_view s, int size, const char* anchor = "middle",
                 const char* extra = "") {
  return fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"{}\" text-anchor=\"{}\" {} {}>{}</text>\n", x, y,
      size, anchor, kFont, extra, escape(s));
}

std::string begin_document(const std::string& title, const Frame& f, const std::string& x_label,
                           const std::string& y_label) {
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  svg += text((f.x0 + f.x1) / 2, 26, title, 16, "middle", "font-weight=\"bold\"");
  svg += text((f.x0 + f.x1) / 2, kHeight - 16, x_label, 13);
  const double mid_y = (f.y0 + f.y1) / 2;
  svg += text(20, mid_y, y_label, 13, "middle",
              fmt::format("transform=\"rotate(-90 20 {:.1f})\"", mid_y).c_str());
  return svg;
}

// A linear or log mapping from data to pixels.
struct Scale {
  double lo, hi, p0, p1;
  bool log;
  double operator()(double v) const {
    const double t = log ? std::log(v / lo) / std::log(hi / lo) : (v - lo) / (hi - lo);
    return p0 + t * (p1 - p0);
  }
};

void finite_range(const std::vector<double>& values, double& lo, double& hi) {
  for (double v : values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
}

// Grid lines, tick marks and tick labels of both axes.
std::string draw_axes(const Frame& f, const AxisTicks& xt, const Scale& sx, const AxisTicks& yt,
                      const Scale& sy) {
  std::string svg;
  for (double v : xt.values) {
    const double x = sx(v);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e5e5e5\"/>\n",
        x, f.y0, f.y1);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"black\"/>\n", x,
        f.y1, f.y1 + 5);
    svg += text(x, f.y1 + 19, format_tick(v), 11);
  }
  for (double v : yt.values) {
    const double y = sy(v);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>\n",
        f.x0, y, f.x1);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"black\"/>\n",
        f.x0 - 5, y, f.x0);
    svg += text(f.x0 - 8, y + 4, format_tick(v), 11, "end");
  }
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"black\"/>\n",
      f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0);
  return svg;
}

std::string draw_series(const PlotSeries& s, size_t index, const LinePlot& plot, const Scale& sx,
                        const Scale& sy) {
  const char* colour = kPalette[index % kPalette.size()];
  // Past ten series the colours repeat; a dash pattern keeps the repeats apart.
  const std::string dash = index >= kPalette.size() ? " stroke-dasharray=\"6 3\"" : "";
  std::string svg, points;
  auto flush_line = [&] {
    if (plot.lines && !points.empty())
      svg += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", colour,
          dash, points);
    points.clear();
  };
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
      flush_line();
      continue;
    }
    points += fmt::format("{:.1f},{:.1f} ", sx(s.x[i]), sy(s.y[i]));
    if (plot.markers)
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>\n",
                         sx(s.x[i]), sy(s.y[i]), colour);
  }
  flush_line();
  return svg;
}

std::string draw_legend(const LinePlot& plot, const Frame& f) {
  std::string svg;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const double y = f.y0 + 10 + 20 * static_cast<double>(i);
    const char* colour = kPalette[i % kPalette.size()];
    const std::string dash = i >= kPalette.size() ? " stroke-dasharray=\"6 3\"" : "";
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n",
        f.x1 + 14, y, f.x1 + 38, y, colour, dash);
    svg += text(f.x1 + 44, y + 4, plot.series[i].name, 12, "start");
  }
  return svg;
}

// Viridis at 9 stops, linearly interpolated: perceptually ordered and readable in grey.
std::array<double, 3> viridis(double t) {
  static constexpr double kStops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                          {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                          {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 8;
  const int i = std::min(static_cast<int>(t), 7);
  const double u = t - i;
  std::array<double, 3> rgb;
  for (int c = 0; c < 3; ++c) rgb[c] = kStops[i][c] + u * (kStops[i + 1][c] - kStops[i][c]);
  return rgb;
}

std::string hex(const std::array<double, 3>& rgb) {
  return fmt::format("#{:02x}{:02x}{:02x}", static_cast<int>(std::lround(rgb[0])),
                     static_cast<int>(std::lround(rgb[1])), static_cast<int>(std::lround(rgb[2])));
}

}  // namespace

std::string render_line_plot(const LinePlot& plot) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : plot.series) {
    MASKLM_CHECK(s.x.size() == s.y.size(), "plot series '{}' has {} x and {} y values", s.name,
                 s.x.size(), s.y.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      MASKLM_CHECK(!plot.log_x || s.x[i] > 0, "plot '{}': x = {} on a log axis", plot.title,
                   s.x[i]);
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  MASKLM_CHECK(x_lo <= x_hi, "plot '{}' has no finite points", plot.title);
  const Frame f{kLeft, kTop, kWidth - kLegendWidth, kHeight - kBottom};
  const AxisTicks xt = plot.log_x ? log_ticks(x_lo, x_hi) : linear_ticks(x_lo, x_hi);
  const AxisTicks yt = linear_ticks(y_lo, y_hi);
  const Scale sx{xt.lo, xt.hi, f.x0, f.x1, plot.log_x}, sy{yt.lo, yt.hi, f.y1, f.y0, false};
  std::string svg = begin_document(plot.title, f, plot.x_label, plot.y_label);
  svg += draw_axes(f, xt, sx, yt, sy);
  for (size_t i = 0; i < plot.series.size(); ++i)
    svg += draw_series(plot.series[i], i, plot, sx, sy);
  svg += draw_legend(plot, f);
  return svg + "</svg>\n";
}

std::string render_heatmap(const Heatmap& map) {
  const size_t rows = map.rows.size(), cols = map.columns.size();
  MASKLM_CHECK(rows > 0 && cols > 0 && map.values.size() == rows * cols,
               "heatmap '{}': {} values for {} rows x {} columns", map.title, map.values.size(),
               rows, cols);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  finite_range(map.values, lo, hi);
  MASKLM_CHECK(lo <= hi, "heatmap '{}' has no finite values", map.title);
  const Frame f{kLeft + 20, kTop, kWidth - kLegendWidth, kHeight - kBottom};
  const double cw = (f.x1 - f.x0) / static_cast<double>(cols),
               ch = (f.y1 - f.y0) / static_cast<double>(rows);
  std::string svg = begin_document(map.title, f, map.x_label, map.y_label);
  const double font = std::clamp(std::min(cw / 5, ch / 2.5), 8.0, 14.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      const double v = map.values[r * cols + c];
      const double x = f.x0 + static_cast<double>(c) * cw, y = f.y0 + static_cast<double>(r) * ch;
      if (!std::isfinite(v)) {
        svg += fmt::format(
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
            "fill=\"#f2f2f2\"/>\n",
            x, y, cw, ch);
        continue;
      }
      const auto rgb = viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5);
      // Dark text on the light (yellow-green) end of the scale, white on the dark end.
      const double luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x,
          y, cw, ch, hex(rgb));
      svg += text(x + cw / 2, y + ch / 2 + font / 3, fmt::format("{:.{}f}", v, map.digits),
                  static_cast<int>(font), "middle",
                  luminance > 0.55 ? "fill=\"black\"" : "fill=\"white\"");
    }
    svg += text(f.x0 - 8, f.y0 + (static_cast<double>(r) + 0.5) * ch + 4, map.rows[r], 11, "end");
  }
  for (size_t c = 0; c < cols; ++c)
    svg += text(f.x0 + (static_cast<double>(c) + 0.5) * cw, f.y1 + 19, map.columns[c], 11);
  // The colour bar: a vertical gradient from lo (bottom) to hi (top), with ticks.
  const double bx = f.x1 + 24, bw = 18;
  svg += "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i <= 8; ++i)
    svg += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", i / 8.0, hex(viridis(i / 8.0)));
  svg += "</linearGradient></defs>\n";
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" fill=\"url(#scale)\" "
      "stroke=\"black\"/>\n",
      bx, f.y0, bw, f.y1 - f.y0);
  const Scale sy{lo, hi > lo ? hi : lo + 1, f.y1, f.y0, false};
  for (double v : linear_ticks(lo, hi, 5).values) {
    if (v < lo || v > hi) continue;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"black\"/>\n",
        bx + bw, sy(v), bx + bw + 4);
    svg += text(bx + bw + 7, sy(v) + 4, format_tick(v), 11, "start");
  }
  return svg + "</svg>\n";
}

}  // namespace masklm
