// Summaries of repeated measurements (seeds, fine-tuning grids): count, mean, median,
// sample standard deviation, extremes; and the "mean ± std" form tables print.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace masklm {

struct SummaryStats {
  int64_t n = 0;  // finite values summarized (NaNs are left out)
  double mean = 0, median = 0;
  double std = 0;  // sample standard deviation (n - 1); 0 for a single value
  double min = 0, max = 0;
};

SummaryStats summarize(std::span<const double> values);

// "0.812 ± 0.004" with `digits` decimals; "0.812" for one value; "–" for none.
std::string format_mean_std(const SummaryStats& s, int digits);

}  // namespace masklm
