// Optimizer and flat-buffer ops (kernels/ops_optim.cpp): AdamW against a hand-written double
// reference, sum_squares accuracy and reproducibility, scale and fill, argument validation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "kernels/ops.h"
#include "runtime/threads.h"

namespace masklm {
namespace {

using testing::random_vector;
using testing::relative_error;

Ctx cpu_ctx;

// The AdamW formulas written out plainly in double (Loshchilov & Hutter, decoupled decay).
struct ReferenceAdamW {
  std::vector<double> p, m, v;
  void step(const std::vector<double>& grads, const AdamWStep& s) {
    const double t = static_cast<double>(s.step);
    for (size_t i = 0; i < p.size(); ++i) {
      const double g = grads[i] * s.grad_scale;
      m[i] = s.beta1 * m[i] + (1 - s.beta1) * g;
      v[i] = s.beta2 * v[i] + (1 - s.beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(s.beta1, t));
      const double v_hat = v[i] / (1 - std::pow(s.beta2, t));
      p[i] = p[i] - s.lr * s.weight_decay * p[i] - s.lr * m_hat / (std::sqrt(v_hat) + s.eps);
    }
  }
};

// The op's state, in T, driven step by step beside the reference.
template <typename T> struct OpAdamW {
  std::vector<T> p, m, v;
  void step(const std::vector<double>& grads, const AdamWStep& s) {
    std::vector<T> g(grads.begin(), grads.end());
    adamw_update(cpu_ctx, host_tensor(p), host_tensor(g), host_tensor(m), host_tensor(v), s);
  }
};

AdamWStep recipe_step(int64_t step) {
  AdamWStep s;
  s.lr = 2e-3;
  s.beta1 = 0.9;
  s.beta2 = 0.98;
  s.eps = 1e-6;
  s.weight_decay = 0.01;
  s.grad_scale = 0.5;
  s.step = step;
  return s;
}

template <typename T> double error_after_steps(int steps) {
  const int64_t n = 257;
  const auto p0 = random_vector<double>(n, 1);
  ReferenceAdamW ref{p0, std::vector<double>(n), std::vector<double>(n)};
  OpAdamW<T> op{std::vector<T>(p0.begin(), p0.end()), std::vector<T>(n), std::vector<T>(n)};
  for (int t = 1; t <= steps; ++t) {
    const auto grads = random_vector<double>(n, 100 + t, -2, 2);
    ref.step(grads, recipe_step(t));
    op.step(grads, recipe_step(t));
  }
  // Compare the distance travelled, which is what the update computes. In float, storing
  // p ~ 1 rounds by ~6e-8 per step against steps of ~2e-3, so ~1e-5 relative is the floor.
  std::vector<double> moved_ref(n), moved_op(n);
  for (int64_t i = 0; i < n; ++i) {
    moved_ref[i] = ref.p[i] - p0[i];
    moved_op[i] = static_cast<double>(op.p[i]) - p0[i];
  }
  return relative_error(moved_op.data(), moved_ref.data(), n);
}

TEST(AdamWUpdate, OneStepMatchesReference) {
  EXPECT_LT(error_after_steps<double>(1), 1e-12);
  EXPECT_LT(error_after_steps<float>(1), 3e-5);
}

TEST(AdamWUpdate, SeveralStepsMatchReference) {
  EXPECT_LT(error_after_steps<double>(10), 1e-12);
  EXPECT_LT(error_after_steps<float>(10), 3e-5);
}

TEST(AdamWUpdate, HandComputedFirstStep) {
  // Step 1: bias correction makes m_hat = g and v_hat = g^2, so the Adam step is
  // lr * g / (|g| + eps).
  std::vector<double> p{1.0, 2.0}, g{0.5, 0.0}, m{0, 0}, v{0, 0};
  AdamWStep s;
  s.lr = 0.1;
  s.eps = 1e-8;
  adamw_update(cpu_ctx, host_tensor(p), host_tensor(g), host_tensor(m), host_tensor(v), s);
  EXPECT_DOUBLE_EQ(p[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8));
  EXPECT_DOUBLE_EQ(m[0], 0.05);
  EXPECT_DOUBLE_EQ(v[0], 0.00025);
  EXPECT_EQ(p[1], 2.0);

  // Decoupled decay: with g = 0, p shrinks by lr * wd * p = 0.002. (Adam with an L2 term
  // would see g = wd * p = 0.02 and take a full lr-sized step to 1.9.)
  std::vector<double> q{2.0}, zero{0.0}, mq{0.0}, vq{0.0};
  s.weight_decay = 0.01;
  adamw_update(cpu_ctx, host_tensor(q), host_tensor(zero), host_tensor(mq), host_tensor(vq), s);
  EXPECT_DOUBLE_EQ(q[0], 1.998);
}

TEST(AdamWUpdate, GradScaleEqualsPrescaledGradients) {
  const int64_t n = 64;
  const auto p0 = random_vector<double>(n, 2), grads = random_vector<double>(n, 3);
  auto run = [&](const std::vector<double>& g, double grad_scale) {
    std::vector<double> p = p0, gc = g, m(n), v(n);
    for (int64_t t = 1; t <= 3; ++t) {
      AdamWStep s = recipe_step(t);
      s.grad_scale = grad_scale;
      adamw_update(cpu_ctx, host_tensor(p), host_tensor(gc), host_tensor(m), host_tensor(v), s);
    }
    return p;
  };
  std::vector<double> prescaled(n);
  for (int64_t i = 0; i < n; ++i) prescaled[i] = grads[i] * 0.25;
  const auto scaled = run(grads, 0.25);
  EXPECT_EQ(scaled, run(prescaled, 1.0));
  EXPECT_NE(scaled, run(grads, 1.0));
}

TEST(SumSquares, HandComputed) {
  std::vector<float> f{1, -2, 3};
  std::vector<double> d{1, -2, 3};
  EXPECT_EQ(sum_squares(cpu_ctx, host_tensor(f)), 14.0);
  EXPECT_EQ(sum_squares(cpu_ctx, host_tensor(d)), 14.0);
  std::vector<float> empty;
  EXPECT_EQ(sum_squares(cpu_ctx, host_tensor(empty)), 0.0);
}

TEST(SumSquares, AccumulatesFloatsInDouble) {
  // A float accumulator over a million values drifts by ~1e-4 relative; double does not.
  const int64_t n = int64_t{1} << 20;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0f + static_cast<float>(i) * 1e-6f;
  double expected = 0;
  for (float v : x) expected += static_cast<double>(v) * v;
  EXPECT_NEAR(sum_squares(cpu_ctx, host_tensor(x)), expected, 1e-12 * expected);
}

TEST(SumSquares, IsTheSameForAnyThreadCount) {
  auto x = random_vector<float>(1000003, 4);
  set_num_threads(1);
  const double one = sum_squares(cpu_ctx, host_tensor(x));
  set_num_threads(3);
  const double three = sum_squares(cpu_ctx, host_tensor(x));
  set_num_threads(0);
  EXPECT_EQ(one, three);
}

TEST(ScaleAndFill, HandComputed) {
  std::vector<float> x{1, -2, 3};
  scale_inplace(cpu_ctx, host_tensor(x), 2.5);
  EXPECT_EQ(x, (std::vector<float>{2.5f, -5.0f, 7.5f}));
  auto y = random_vector<double>(1001, 5);
  fill_zero(cpu_ctx, host_tensor(y));
  EXPECT_EQ(y, std::vector<double>(1001, 0.0));
}

TEST(OptimOpValidation, AdamWRejectsMismatchedOrInvalidArguments) {
  std::vector<float> p(4), g(3), m(4), v(4), g4(4);
  std::vector<double> g64(4);
  EXPECT_THROW(adamw_update(cpu_ctx, host_tensor(p), host_tensor(g), host_tensor(m), host_tensor(v), AdamWStep{}), Error);
  EXPECT_THROW(adamw_update(cpu_ctx, host_tensor(p), host_tensor(g64), host_tensor(m), host_tensor(v), AdamWStep{}), Error);
  AdamWStep zeroth;
  zeroth.step = 0;
  EXPECT_THROW(adamw_update(cpu_ctx, host_tensor(p), host_tensor(g4), host_tensor(m), host_tensor(v), zeroth), Error);
  EXPECT_NO_THROW(adamw_update(cpu_ctx, host_tensor(p), host_tensor(g4), host_tensor(m), host_tensor(v), AdamWStep{}));
}

// A compute copy must be 16-bit beside F32 params, of their shape (its values:
// tests/test_ops_16bit.cpp).
TEST(OptimOpValidation, AdamWComputeCopyIsChecked) {
  std::vector<float> p(4), g(4), m(4), v(4), f32_copy(4);
  std::vector<uint16_t> bits(4), short_bits(3);
  const Tensor bf16_copy{bits.data(), Shape{4}, DType::BF16, Device::CPU};
  const Tensor short_copy{short_bits.data(), Shape{3}, DType::BF16, Device::CPU};
  const auto update = [&](const Tensor& copy) {
    adamw_update(cpu_ctx, host_tensor(p), host_tensor(g), host_tensor(m), host_tensor(v), AdamWStep{}, copy);
  };
  EXPECT_NO_THROW(update(bf16_copy));
  testing::expect_error([&] { update(host_tensor(f32_copy)); }, {"compute copy is BF16 or F16", "F32"});
  EXPECT_THROW(update(short_copy), Error);
}

TEST(OptimOpValidation, FlatOpsRejectIntegerBuffers) {
  std::vector<int32_t> ids{1, 2};
  EXPECT_THROW(sum_squares(cpu_ctx, host_tensor(ids)), Error);
  EXPECT_THROW(scale_inplace(cpu_ctx, host_tensor(ids), 2.0), Error);
  EXPECT_THROW(fill_zero(cpu_ctx, host_tensor(ids)), Error);
}

}  // namespace
}  // namespace masklm
