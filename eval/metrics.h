// Downstream metrics as GLUE reports them: accuracy, binary F1, Matthews correlation,
// Pearson and Spearman correlation. Each follows scikit-learn/scipy (the reference the
// GLUE leaderboard and Hugging Face's glue metric use), including their degenerate cases,
// so a score computed here equals the one computed there (tests/fixtures checks it).
// Values are fractions in [0, 1] or [-1, 1], not percentages.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace masklm {

// Fraction of predictions equal to the gold label.
double accuracy(std::span<const int32_t> predicted, std::span<const int32_t> gold);

// F1 of the class `positive` (sklearn f1_score, average="binary"): 0 when there is no true
// positive, as sklearn's zero_division default gives.
double binary_f1(std::span<const int32_t> predicted, std::span<const int32_t> gold,
                 int32_t positive = 1);

// Matthews correlation for any number of classes (Gorodkin's R_K, sklearn
// matthews_corrcoef); 0 when a confusion-matrix margin makes it undefined, as in sklearn.
double matthews_corrcoef(std::span<const int32_t> predicted, std::span<const int32_t> gold);

// Pearson's r (scipy.stats.pearsonr); NaN when either input is constant.
double pearson(std::span<const double> x, std::span<const double> y);

// Spearman's rho: Pearson's r of the ranks, tied values sharing their average rank
// (scipy.stats.spearmanr); NaN when either input is constant.
double spearman(std::span<const double> x, std::span<const double> y);

// 1-based ranks; tied values get the mean of the ranks they span (scipy rankdata "average").
std::vector<double> average_ranks(std::span<const double> values);

}  // namespace masklm
