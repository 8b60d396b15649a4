// kernels/cpu/vector_math.h against std::exp in double: every float of the normal range
// within the documented 1.5 ulp, the edges of that range, and the row kernel (whose float
// version may run a compiler's AVX2 clone) on every row length up to a few vector widths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/vector_math.h"

namespace masklm::cpu {
namespace {

// |got - want| in units in the last place of the float nearest to want.
double ulp_error(float got, double want) {
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

TEST(VectorMath, ExpIsWithinOneAndAHalfUlpOverTheNormalRange) {
  double worst = 0;
  float worst_x = 0;
  int64_t checked = 0;
  // Every 16th float of [-87.33, 88.37]: 65 million of them, both signs, all exponents.
  for (float x = -87.33f; x <= 88.37f;) {
    const double err = ulp_error(exp_approx(x), std::exp(static_cast<double>(x)));
    if (err > worst) worst = err, worst_x = x;
    ++checked;
    const int32_t bits = std::bit_cast<int32_t>(x);
    x = x < 0 ? (bits - 16 <= static_cast<int32_t>(0x80000000) ? 0.0f
                                                               : std::bit_cast<float>(bits - 16))
              : std::bit_cast<float>(bits + 16);
  }
  EXPECT_GT(checked, 60'000'000);
  EXPECT_LE(worst, 1.5) << "at x = " << worst_x;
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
  EXPECT_EQ(exp_approx(-0.0f), 1.0f);
}

TEST(VectorMath, ExpFlushesBelowTheRangeAndOverflowsAboveIt) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_approx(-inf), 0.0f);
  EXPECT_EQ(exp_approx(-87.34f), 0.0f);
  EXPECT_EQ(exp_approx(-1000.0f), 0.0f);
  for (const float edge : {-87.33f, 88.37f})  // exp of the float itself, not of the decimal
    EXPECT_LE(ulp_error(exp_approx(edge), std::exp(static_cast<double>(edge))), 1.5) << edge;
  EXPECT_EQ(exp_approx(88.38f), inf);
  EXPECT_EQ(exp_approx(inf), inf);
  EXPECT_TRUE(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
}

TEST(VectorMath, ExpShiftedRowsMatchScaledExpForEveryLength) {
  for (int64_t n = 0; n <= 37; ++n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      x[static_cast<size_t>(i)] = 0.37f * static_cast<float>(i) - 6.0f;
    const std::vector<float> before = x;
    const float shift = 2.5f, scale = 0.75f;
    exp_shifted(x.data(), n, shift, scale);
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      // The float subtraction is part of the contract; exp and the scaling add 2 ulp at most.
      const double want = scale * std::exp(static_cast<double>(before[k] - shift));
      EXPECT_LE(ulp_error(x[k], want), 2.0) << "n = " << n << ", i = " << i;
    }
  }
  std::vector<double> d{-3.0, 0.5, 1.25};
  exp_shifted(d.data(), 3, 0.5, 2.0);
  EXPECT_EQ(d,
            (std::vector<double>{2.0 * std::exp(-3.5), 2.0 * std::exp(0.0), 2.0 * std::exp(0.75)}))
      << "double rows keep std::exp";
}

}  // namespace
}  // namespace masklm::cpu
