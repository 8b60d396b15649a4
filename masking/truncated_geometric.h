// Span lengths for SpanBERT-style masking: P(len = k) ∝ p(1-p)^(k-1) for k = 1..max_len
// (SpanBERT: p = 0.2, max 10, mean 3.8), drawn by inverting the cumulative table.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/error.h"

namespace masklm {

class TruncatedGeometric {
 public:
  TruncatedGeometric(double p, int32_t max_len) {
    MASKLM_CHECK(0 < p && p <= 1 && max_len >= 1,
                 "span lengths need p in (0, 1] and max_len >= 1, got {} and {}", p, max_len);
    double total = 0;
    for (int32_t k = 1; k <= max_len; ++k) {
      pmf_.push_back(p * std::pow(1 - p, k - 1));
      total += pmf_.back();
    }
    double cumulative = 0;
    for (double& q : pmf_) {
      q /= total;
      cumulative += q;
      cdf_.push_back(cumulative);
    }
    cdf_.back() = 1;  // so u < 1 always finds a length despite rounding
  }

  int32_t max_len() const { return static_cast<int32_t>(pmf_.size()); }
  double pmf(int32_t k) const { return pmf_[static_cast<size_t>(k - 1)]; }
  // The length for a uniform u in [0, 1).
  int32_t draw(double u) const {
    return static_cast<int32_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()) + 1;
  }

 private:
  std::vector<double> pmf_, cdf_;
};

}  // namespace masklm
