// kernels/cpu/vector_math.h against std::exp and std::erfc in double: floats spread over
// the whole normal range within the documented ulp, the edges of that range, and the row
// kernels (whose float versions may run a compiler's AVX2 clone) on every row length up to
// a few vector widths.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "kernels/cpu/vector_math.h"

namespace masklm::cpu {
namespace {

// |got - want| in units in the last place of the float nearest to want.
double ulp_error(float got, double want) {
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

// A row kernel: out[i] = f(in[i]) for i < n.
using Rows = void (*)(float* out, const float* in, int64_t n);

// Worst ulp_error of a row kernel against want over every stride-th float from 0 out to
// low and to high (both signs, all exponents; an odd stride reaches every low bit) where
// want is a normal float, and where it occurred. Results that are not finite are counted
// apart, since no comparison with NaN fails.
struct Worst {
  double ulps = 0;
  float at = 0;
  int64_t checked = 0, not_finite = 0;
};
template <typename Want> Worst sweep(float low, float high, int32_t stride, Rows rows, Want want) {
  Worst w;
  std::vector<float> in, out;
  auto check_batch = [&] {
    out.resize(in.size());
    rows(out.data(), in.data(), static_cast<int64_t>(in.size()));
    for (size_t i = 0; i < in.size(); ++i) {
      const double want_x = want(static_cast<double>(in[i]));
      if (std::fabs(want_x) < std::numeric_limits<float>::min()) continue;
      const double err = ulp_error(out[i], want_x);
      if (!std::isfinite(err))
        ++w.not_finite;
      else if (err > w.ulps)
        w.ulps = err, w.at = in[i];
      ++w.checked;
    }
    in.clear();
  };
  auto add = [&](float x) {
    in.push_back(x);
    if (in.size() == 4096) check_batch();
  };
  // Adding to a float's bits steps away from zero on either side of it.
  auto next = [&](float x) { return std::bit_cast<float>(std::bit_cast<int32_t>(x) + stride); };
  for (float x = 0.0f; x <= high; x = next(x)) add(x);
  for (float x = -0.0f; x >= low; x = next(x)) add(x);
  check_batch();
  return w;
}

// Through exp_shifted, as the kernels call it (perhaps its AVX2 clone).
void exp_rows(float* out, const float* in, int64_t n) {
  std::copy(in, in + n, out);
  exp_shifted(out, n, 0.0f);
}

TEST(VectorMath, ExpIsWithinOneAndAHalfUlpOverTheNormalRange) {
  // Every 61st float of [-87.33, 88.37]: 37 million of them.
  const Worst w = sweep(-87.33f, 88.37f, 61, exp_rows, [](double x) { return std::exp(x); });
  EXPECT_GT(w.checked, 35'000'000);
  EXPECT_EQ(w.not_finite, 0);
  EXPECT_LE(w.ulps, 1.5) << "at x = " << w.at;
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

double normal_cdf_f64(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double normal_pdf_f64(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }

TEST(VectorMath, NormalCdfAndDensityAreWithinTheirUlpBounds) {
  // Every 257th float of [-13.5, 13.5]: 8.5 million of them. The inline functions as this
  // file compiles them, then Φ through the GELU kernel (perhaps its AVX2 clone), where
  // x·Φ(x) adds half an ulp.
  const Rows cdf_rows = [](float* out, const float* in, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = normal_cdf(in[i]);
  };
  const Rows pdf_rows = [](float* out, const float* in, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = normal_pdf(in[i]);
  };
  const Rows gelu_rows = [](float* out, const float* in, int64_t n) {
    gelu_contiguous(out, in, n);
  };
  const Worst cdf = sweep(-13.5f, 13.5f, 257, cdf_rows, normal_cdf_f64);
  const Worst pdf = sweep(-13.5f, 13.5f, 257, pdf_rows, normal_pdf_f64);
  // Only where Φ(x) is a normal float: x·Φ(x) is one a little further out.
  const Worst gelu = sweep(-13.5f, 13.5f, 257, gelu_rows, [](double x) {
    const double cdf = normal_cdf_f64(x);
    return cdf < std::numeric_limits<float>::min() ? 0.0 : x * cdf;
  });
  EXPECT_GT(cdf.checked, 8'000'000);
  for (const Worst& w : {cdf, pdf, gelu}) EXPECT_EQ(w.not_finite, 0);
  EXPECT_LE(cdf.ulps, 7.0) << "at x = " << cdf.at;
  EXPECT_LE(pdf.ulps, 4.0) << "at x = " << pdf.at;
  EXPECT_LE(gelu.ulps, 7.5) << "at x = " << gelu.at;
  // Far in the lower tail, where 1 + erf(x/√2) in float is 0 or all rounding error.
  EXPECT_LE(ulp_error(normal_cdf(-9.0f), normal_cdf_f64(-9.0)), 7.0);
}

TEST(VectorMath, NormalCdfAndDensityAtTheEdges) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(normal_cdf(0.0f), 0.5f);
  EXPECT_EQ(normal_cdf(-0.0f), 0.5f);
  for (const float x : {-14.0f, -1000.0f, -inf}) {
    EXPECT_EQ(normal_cdf(x), 0.0f) << x;
    EXPECT_EQ(normal_cdf(-x), 1.0f) << -x;
    EXPECT_EQ(normal_pdf(x), 0.0f) << x;
    EXPECT_EQ(normal_pdf(-x), 0.0f) << -x;
  }
  EXPECT_TRUE(std::isnan(normal_cdf(nan)));
  EXPECT_TRUE(std::isnan(normal_pdf(nan)));
}

// in[i] = 0.61 i - 11: from deep in the lower tail to well past the knee.
std::vector<float> gelu_inputs(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = 0.61f * static_cast<float>(i) - 11.0f;
  return x;
}

TEST(VectorMath, GeluRowsMatchTheExactFormForEveryLength) {
  for (int64_t n = 0; n <= 37; ++n) {
    const std::vector<float> x = gelu_inputs(n);
    std::vector<float> out(x.size()), in_place = x;
    gelu_contiguous(out.data(), x.data(), n);
    gelu_contiguous(in_place.data(), in_place.data(), n);
    EXPECT_EQ(out, in_place) << "n = " << n;
    for (size_t i = 0; i < x.size(); ++i) {
      const double xi = x[i];
      EXPECT_LE(ulp_error(out[i], xi * normal_cdf_f64(xi)), 8.0) << "x = " << xi;
    }
  }
  // Φ at these points to 17 digits (mpmath): double rows keep full relative precision in
  // the lower tail too.
  const std::vector<double> xs{-9.0, -0.5, 2.0};
  const std::vector<double> cdf{1.1285884059538406e-19, 0.30853753872598690, 0.97724986805182079};
  std::vector<double> d = xs;
  gelu_contiguous(d.data(), d.data(), 3);
  for (size_t i = 0; i < d.size(); ++i)
    EXPECT_NEAR(d[i] / (xs[i] * cdf[i]), 1.0, 1e-14) << "double rows, x = " << xs[i];
}

TEST(VectorMath, GeluBackwardRowsAccumulateTheExactDerivative) {
  for (int64_t n = 0; n <= 37; ++n) {
    const std::vector<float> x = gelu_inputs(n);
    std::vector<float> dout(x.size()), din(x.size(), 0.25f);
    for (size_t i = 0; i < x.size(); ++i) dout[i] = 1.5f - 0.1f * static_cast<float>(i);
    gelu_backward_contiguous(din.data(), dout.data(), x.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      const double xi = x[i], cdf = normal_cdf_f64(xi), x_pdf = xi * normal_pdf_f64(xi);
      // gelu' = Φ + xφ cancels near x = -0.75: bound the error by the terms' size.
      const double scale = std::fabs(dout[i]) * (cdf + std::fabs(x_pdf)) + 0.25;
      EXPECT_NEAR(din[i], 0.25 + dout[i] * (cdf + x_pdf), 8 * scale * 0x1p-24) << "x = " << xi;
    }
  }
  const double x = -0.5, dout = 2.0;
  double din = 1.0;
  gelu_backward_contiguous(&din, &dout, &x, 1);
  EXPECT_NEAR(din, 1.0 + dout * (normal_cdf_f64(x) + x * normal_pdf_f64(x)), 1e-15)
      << "double rows";
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
  const std::vector<double> want{2.0 * std::exp(-3.5), 2.0, 2.0 * std::exp(0.75)};
  for (size_t i = 0; i < d.size(); ++i)
    EXPECT_DOUBLE_EQ(d[i], want[i]) << "double rows keep std::exp";
}

}  // namespace
}  // namespace masklm::cpu
