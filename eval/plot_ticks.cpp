#include "eval/plot_ticks.h"

#include <fmt/format.h>

#include <cmath>

#include "runtime/error.h"

namespace masklm {

namespace {

// The smallest of 1, 2, 5 x 10^k that is at least `rough`.
double nice_step(double rough) {
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= rough * (1 - 1e-9)) return m * power;
  return 10 * power;
}

}  // namespace

AxisTicks linear_ticks(double min, double max, int target) {
  MASKLM_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max, "bad axis range [{}, {}]",
               min, max);
  if (min == max) {
    min -= 0.5;
    max += 0.5;
  }
  const double step = nice_step((max - min) / std::max(target - 1, 1));
  AxisTicks t;
  t.lo = std::floor(min / step + 1e-9) * step;
  t.hi = std::ceil(max / step - 1e-9) * step;
  // Ticks from integer multiples, so 0.1 + 0.2 style drift never shows as 0.30000000000000004.
  for (long k = std::lround(t.lo / step); k <= std::lround(t.hi / step); ++k)
    t.values.push_back(k * step);
  return t;
}

AxisTicks log_ticks(double min, double max) {
  MASKLM_CHECK(min > 0 && std::isfinite(max) && min <= max,
               "bad log axis range [{}, {}] (needs positive values)", min, max);
  const double span = std::max(std::log10(max / min), 0.2);
  AxisTicks t;
  t.lo = min / std::pow(10.0, 0.05 * span);
  t.hi = max * std::pow(10.0, 0.05 * span);
  const int first = static_cast<int>(std::floor(std::log10(t.lo))),
            last = static_cast<int>(std::ceil(std::log10(t.hi)));
  // With few decades, powers of ten alone would leave one or two ticks: add 1-2-5 steps
  // (within a single decade, every digit).
  const std::vector<double> mantissas = span < 1   ? std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}
                                        : span < 3 ? std::vector<double>{1, 2, 5}
                                                   : std::vector<double>{1};
  for (int e = first; e <= last; ++e)
    for (double m : mantissas) {
      const double v = m * std::pow(10.0, e);
      if (v >= t.lo * (1 - 1e-12) && v <= t.hi * (1 + 1e-12)) t.values.push_back(v);
    }
  return t;
}

std::string format_tick(double value) {
  if (value == 0) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e6 || magnitude < 1e-4) return fmt::format("{:.3g}", value);
  // {:g} with enough digits for 1-2-5 multiples, without trailing zeros.
  return fmt::format("{:.6g}", value);
}

}  // namespace masklm
