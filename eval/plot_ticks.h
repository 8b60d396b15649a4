// Axis ticks a person reads easily: multiples of 1, 2 or 5 times a power of ten on linear
// axes; on log axes powers of ten, with 1-2-5 (or every digit) steps within each decade
// when the range spans too few decades for powers of ten alone.
#pragma once

#include <string>
#include <vector>

namespace masklm {

struct AxisTicks {
  double lo = 0, hi = 1;       // the axis range, widened to the outer ticks on linear axes
  std::vector<double> values;  // the ticks, ascending, within [lo, hi]
};

// About `target` ticks covering [min, max]; a point range gets a unit range around it.
AxisTicks linear_ticks(double min, double max, int target = 6);
// For min > 0; the range stays [min, max] (padded by a few percent of the log span).
AxisTicks log_ticks(double min, double max);

// Shortest form that tells neighbouring ticks apart: "0.15", "2", "1e+04", "250000".
std::string format_tick(double value);

}  // namespace masklm
