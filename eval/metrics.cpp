#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/error.h"

namespace masklm {

namespace {

template <typename T> void check_pair(std::span<const T> predicted, std::span<const T> gold) {
  MASKLM_CHECK(predicted.size() == gold.size(), "{} predictions for {} gold values",
               predicted.size(), gold.size());
  MASKLM_CHECK(!gold.empty(), "a metric needs at least one example");
}

}  // namespace

double accuracy(std::span<const int32_t> predicted, std::span<const int32_t> gold) {
  check_pair(predicted, gold);
  size_t correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) correct += predicted[i] == gold[i];
  return static_cast<double>(correct) / static_cast<double>(gold.size());
}

double binary_f1(std::span<const int32_t> predicted, std::span<const int32_t> gold,
                 int32_t positive) {
  check_pair(predicted, gold);
  int64_t true_pos = 0, false_pos = 0, false_neg = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    const bool p = predicted[i] == positive, g = gold[i] == positive;
    true_pos += p && g;
    false_pos += p && !g;
    false_neg += !p && g;
  }
  // 2PR/(P+R) written without the ratios, so "no positive anywhere" is the one 0/0 case.
  const int64_t denominator = 2 * true_pos + false_pos + false_neg;
  return denominator == 0 ? 0.0
                          : 2.0 * static_cast<double>(true_pos) / static_cast<double>(denominator);
}

double matthews_corrcoef(std::span<const int32_t> predicted, std::span<const int32_t> gold) {
  check_pair(predicted, gold);
  const auto [lo, hi] = std::minmax({*std::min_element(gold.begin(), gold.end()),
                                     *std::max_element(gold.begin(), gold.end()),
                                     *std::min_element(predicted.begin(), predicted.end()),
                                     *std::max_element(predicted.begin(), predicted.end())});
  const size_t classes = static_cast<size_t>(hi - lo) + 1;
  std::vector<double> gold_count(classes, 0.0), pred_count(classes, 0.0);
  double correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    gold_count[gold[i] - lo] += 1;
    pred_count[predicted[i] - lo] += 1;
    correct += predicted[i] == gold[i];
  }
  // Covariances of the one-hot label indicators, as sklearn computes them from the
  // confusion matrix (all integers, so exact in double for any realistic n).
  const double n = static_cast<double>(gold.size());
  const double dot_gp =
      std::inner_product(gold_count.begin(), gold_count.end(), pred_count.begin(), 0.0);
  const double dot_pp =
      std::inner_product(pred_count.begin(), pred_count.end(), pred_count.begin(), 0.0);
  const double dot_gg =
      std::inner_product(gold_count.begin(), gold_count.end(), gold_count.begin(), 0.0);
  const double cov_gp = correct * n - dot_gp;
  const double cov_pp = n * n - dot_pp;
  const double cov_gg = n * n - dot_gg;
  if (cov_pp * cov_gg == 0) return 0.0;
  return cov_gp / std::sqrt(cov_gg * cov_pp);
}

double pearson(std::span<const double> x, std::span<const double> y) {
  check_pair(x, y);
  MASKLM_CHECK(x.size() >= 2, "a correlation needs at least two examples, got {}", x.size());
  const double n = static_cast<double>(x.size());
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mean_x, dy = y[i] - mean_y;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  // Rounding can push |r| a hair past 1 for perfectly (anti)correlated inputs; scipy clips too.
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(std::span<const double> values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;
    while (end < order.size() && values[order[end]] == values[order[begin]]) ++end;
    // Positions begin..end-1 hold equal values: ranks begin+1..end, whose mean is this.
    const double rank = 0.5 * static_cast<double>(begin + 1 + end);
    for (size_t k = begin; k < end; ++k) ranks[order[k]] = rank;
    begin = end;
  }
  return ranks;
}

double spearman(std::span<const double> x, std::span<const double> y) {
  check_pair(x, y);
  const std::vector<double> rank_x = average_ranks(x), rank_y = average_ranks(y);
  return pearson(rank_x, rank_y);
}

}  // namespace masklm
