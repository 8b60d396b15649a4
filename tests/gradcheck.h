// Finite-difference gradient checking in double, shared by the op and model tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace masklm::testing {

// Norm-wise relative error ||a - b|| / max(||a||, ||b||, tiny).
inline double relative_error(const double* a, const double* b, int64_t n) {
  double diff = 0, na = 0, nb = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-300});
}

// Normalized mean squared error sum((a - b)^2) / sum(b^2) against the reference b.
inline double nmse(const double* a, const double* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return num / std::max(den, 1e-300);
}

// Fourth-order central differences (error O(h^4)) of the scalar `loss()` with respect to
// x[0..n): returns the numeric gradient. `loss` must recompute everything from x each call.
inline std::vector<double> numeric_gradient(const std::function<double()>& loss, double* x,
                                            int64_t n, double h = 1e-4) {
  std::vector<double> g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double saved = x[i];
    auto at = [&](double offset) {
      x[i] = saved + offset;
      return loss();
    };
    const double d = 8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h));
    x[i] = saved;
    g[static_cast<size_t>(i)] = d / (12 * h);
  }
  return g;
}

// Relative error between an analytic gradient and central differences.
inline double gradient_error(const std::function<double()>& loss, double* x, const double* analytic,
                             int64_t n, double h = 1e-4) {
  const std::vector<double> numeric = numeric_gradient(loss, x, n, h);
  return relative_error(analytic, numeric.data(), n);
}

template <typename T> std::vector<T> random_vector(int64_t n, uint32_t seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

}  // namespace masklm::testing
