// Metrics: hand-worked cases, degenerate inputs, and reference values from scikit-learn and
// scipy (tests/fixtures/make_score_fixtures.py -> fixtures/score/expected.json).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "eval/metrics.h"
#include "expect_error.h"

namespace masklm {
namespace {

using Labels = std::vector<int32_t>;
using Values = std::vector<double>;

nlohmann::json expected_scores() {
  std::ifstream in(MASKLM_FIXTURE_DIR "/score/expected.json");
  return nlohmann::json::parse(in);
}

TEST(Metrics, AccuracyByHand) {
  EXPECT_DOUBLE_EQ(accuracy(Labels{1, 0, 1, 1}, Labels{1, 1, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(accuracy(Labels{2}, Labels{2}), 1.0);
}

TEST(Metrics, BinaryF1ByHand) {
  // tp 2, fp 1, fn 1: precision = recall = 2/3.
  EXPECT_DOUBLE_EQ(binary_f1(Labels{1, 1, 0, 0, 1}, Labels{1, 0, 1, 0, 1}), 2.0 / 3.0);
  // The positive class can be chosen: now tp 1, fp 1, fn 1.
  EXPECT_DOUBLE_EQ(binary_f1(Labels{1, 1, 0, 0, 1}, Labels{1, 0, 1, 0, 1}, 0), 0.5);
  EXPECT_DOUBLE_EQ(binary_f1(Labels{0, 0}, Labels{0, 0}), 0.0);  // no positives at all: sklearn's 0
  EXPECT_DOUBLE_EQ(binary_f1(Labels{0, 0}, Labels{1, 1}), 0.0);
}

TEST(Metrics, MatthewsByHand) {
  // tp 2, tn 1, fp 1, fn 1: (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6.
  EXPECT_DOUBLE_EQ(matthews_corrcoef(Labels{1, 1, 0, 0, 1}, Labels{1, 0, 1, 0, 1}), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(matthews_corrcoef(Labels{0, 1, 1, 0}, Labels{0, 1, 1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(matthews_corrcoef(Labels{1, 0, 0, 1}, Labels{0, 1, 1, 0}), -1.0);
  // A constant prediction leaves the correlation undefined; sklearn reports 0.
  EXPECT_DOUBLE_EQ(matthews_corrcoef(Labels{1, 1, 1, 1}, Labels{0, 1, 1, 0}), 0.0);
  // Three classes, all correct but for one 2 -> 0:  (n*c - sum t_k p_k) / sqrt(...)
  // t = (1,1,2), p = (2,1,1), c = 3, n = 4: (12 - 5) / sqrt((16 - 6) * (16 - 6)) = 0.7.
  EXPECT_DOUBLE_EQ(matthews_corrcoef(Labels{0, 1, 2, 0}, Labels{0, 1, 2, 2}), 0.7);
}

TEST(Metrics, PearsonByHand) {
  EXPECT_DOUBLE_EQ(pearson(Values{1, 2, 3, 4}, Values{2, 4, 6, 8}), 1.0);
  EXPECT_DOUBLE_EQ(pearson(Values{1, 2, 3, 4}, Values{8, 6, 4, 2}), -1.0);
  // Deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): 4 / sqrt(5 * 5).
  EXPECT_DOUBLE_EQ(pearson(Values{1, 2, 3, 4}, Values{1, 3, 2, 4}), 0.8);
  EXPECT_TRUE(std::isnan(pearson(Values{1, 2, 3}, Values{5, 5, 5})));
}

TEST(Metrics, AverageRanksShareTies) {
  EXPECT_EQ(average_ranks(Values{10, 20, 20, 30}), (Values{1, 2.5, 2.5, 4}));
  EXPECT_EQ(average_ranks(Values{3, 3, 3}), (Values{2, 2, 2}));
  EXPECT_EQ(average_ranks(Values{0.5, -1, 7, -1, 0.5, 0.5}), (Values{4, 1.5, 6, 1.5, 4, 4}));
}

TEST(Metrics, SpearmanByHand) {
  // Ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  EXPECT_NEAR(spearman(Values{1, 2, 2, 3}, Values{1, 2, 3, 4}), 3 / std::sqrt(10.0), 1e-15);
  // Monotone but not linear: rank correlation 1, Pearson below 1.
  EXPECT_DOUBLE_EQ(spearman(Values{1, 2, 3, 4}, Values{1, 10, 100, 1000}), 1.0);
  EXPECT_LT(pearson(Values{1, 2, 3, 4}, Values{1, 10, 100, 1000}), 0.99);
  EXPECT_TRUE(std::isnan(spearman(Values{1, 1}, Values{1, 2})));
}

TEST(Metrics, RejectMismatchedOrEmptyInputs) {
  testing::expect_error(
      [] {
        accuracy(Labels{1, 0}, Labels{1});
      },
      "2 predictions for 1 gold values");
  testing::expect_error([] { binary_f1(Labels{}, Labels{}); }, "at least one example");
  testing::expect_error([] { pearson(Values{1}, Values{1}); }, "at least two examples");
}

TEST(Metrics, ClassificationMatchesScikitLearn) {
  const nlohmann::json cases = expected_scores()["metrics"]["classification"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const Labels gold = c["gold"], pred = c["pred"];
    EXPECT_NEAR(accuracy(pred, gold), c["accuracy"].get<double>(), 1e-15);
    EXPECT_NEAR(matthews_corrcoef(pred, gold), c["matthews_corr"].get<double>(), 1e-14);
    if (c.contains("f1")) {
      EXPECT_NEAR(binary_f1(pred, gold), c["f1"].get<double>(), 1e-15);
    }
  }
}

TEST(Metrics, CorrelationsMatchScipy) {
  const nlohmann::json cases = expected_scores()["metrics"]["correlation"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const Values x = c["x"], y = c["y"];
    EXPECT_EQ(average_ranks(x), c["ranks_x"].get<Values>());
    EXPECT_NEAR(pearson(x, y), c["pearson"].get<double>(), 1e-13);
    EXPECT_NEAR(spearman(x, y), c["spearman"].get<double>(), 1e-13);
  }
}

}  // namespace
}  // namespace masklm
