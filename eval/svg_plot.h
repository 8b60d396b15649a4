// Plots as SVG text, so `masklm report` draws its pictures without Python or a plotting
// library: a line/scatter plot (several series, legend, ticks and labels, optional log x)
// and a heatmap (a value per cell, printed in it, with a colour scale).
#pragma once

#include <string>
#include <vector>

namespace masklm {

struct PlotSeries {
  std::string name;          // the legend entry
  std::vector<double> x, y;  // non-finite points are left out (gaps in a line)
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  bool log_x = false;
  bool lines = true;    // connect the points of a series (in x order as given)
  bool markers = true;  // draw each point
};

// An SVG document; throws masklm::Error when no series has a finite point, or log_x
// meets x <= 0.
std::string render_line_plot(const LinePlot& plot);

struct Heatmap {
  std::string title, x_label, y_label;
  std::vector<std::string> columns, rows;  // tick labels; rows drawn top to bottom
  std::vector<double> values;              // [rows, columns]; NaN: an empty cell
  int digits = 3;                          // decimals of the values printed in the cells
};

std::string render_heatmap(const Heatmap& map);

}  // namespace masklm
