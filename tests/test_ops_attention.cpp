// attention_forward/backward on the CPU: finite differences in double, an independent
// naive reference (full T x T softmax per sequence and head, in double), the unpadded
// property, hand-computed cases, extreme scores, dropout, and argument validation.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "kernels/ops.h"

namespace masklm {
namespace {

using testing::random_vector;
using testing::relative_error;

std::vector<int32_t> cumulative(const std::vector<int32_t>& lengths) {
  std::vector<int32_t> cu{0};
  for (int32_t len : lengths) cu.push_back(cu.back() + len);
  return cu;
}

RngKey dropout_key(uint64_t seed = 7) {
  return RngKey{seed, 3, 0, RngStream::ATTENTION_DROPOUT, 1};
}

// One attention problem: packed qkv of the flat batch plus its sequence layout.
template <typename T> struct Problem {
  std::vector<int32_t> cu;
  int64_t N, C, NH;
  float p;
  RngKey key = dropout_key();
  std::vector<T> qkv;

  Problem(const std::vector<int32_t>& lengths, int64_t C_, int64_t NH_, float p_, uint32_t seed)
      : cu(cumulative(lengths)),
        N(cu.back()),
        C(C_),
        NH(NH_),
        p(p_),
        qkv(random_vector<T>(N * 3 * C, seed, -2, 2)) {}

  // Runs the op's forward; returns out (N, C) and fills lse (NH, N).
  std::vector<T> forward(std::vector<T>* lse_out = nullptr) {
    std::vector<T> out(static_cast<size_t>(N * C)), lse(static_cast<size_t>(NH * N));
    Ctx ctx;
    attention_forward(ctx, host_tensor(out, {N, C}), host_tensor(lse, {NH, N}),
                      host_tensor(qkv, {N, 3 * C}), host_tensor(cu, {int64_t(cu.size())}), int(NH),
                      p, key);
    if (lse_out) *lse_out = lse;
    return out;
  }

  // dqkv += gradient of sum(dout * out).
  void backward(std::vector<T>& dqkv, std::vector<T> dout) {
    std::vector<T> lse;
    std::vector<T> out = forward(&lse);
    Ctx ctx;
    attention_backward(ctx, host_tensor(dqkv, {N, 3 * C}), host_tensor(dout, {N, C}),
                       host_tensor(out, {N, C}), host_tensor(qkv, {N, 3 * C}),
                       host_tensor(lse, {NH, N}), host_tensor(cu, {int64_t(cu.size())}), int(NH), p,
                       key);
  }
};

// Naive reference in double: materializes each sequence's full (T, T) probabilities.
struct Reference {
  std::vector<double> out, lse, dqkv;
};

template <typename T>
Reference naive_attention(const Problem<T>& pr, const std::vector<double>& dout) {
  const int64_t N = pr.N, C = pr.C, NH = pr.NH, HS = C / NH;
  Reference ref{std::vector<double>(N * C), std::vector<double>(NH * N),
                std::vector<double>(N * 3 * C)};
  auto x = [&](int64_t token, int part, int64_t h, int64_t c) {
    return double(pr.qkv[token * 3 * C + part * C + h * HS + c]);
  };
  auto dx = [&](int64_t token, int part, int64_t h, int64_t c) -> double& {
    return ref.dqkv[token * 3 * C + part * C + h * HS + c];
  };
  const double scale = 1 / std::sqrt(double(HS));
  for (size_t b = 0; b + 1 < pr.cu.size(); ++b) {
    const int64_t s0 = pr.cu[b], T_ = pr.cu[b + 1] - s0;
    for (int64_t h = 0; h < NH; ++h) {
      std::vector<double> P(T_ * T_), M(T_ * T_), dP(T_ * T_);
      for (int64_t i = 0; i < T_; ++i) {
        double max = -INFINITY;
        for (int64_t j = 0; j < T_; ++j) {
          double s = 0;
          for (int64_t c = 0; c < HS; ++c) s += x(s0 + i, 0, h, c) * x(s0 + j, 1, h, c);
          P[i * T_ + j] = s * scale;
          max = std::max(max, s * scale);
        }
        double sum = 0;
        for (int64_t j = 0; j < T_; ++j) sum += std::exp(P[i * T_ + j] - max);
        ref.lse[h * N + s0 + i] = max + std::log(sum);
        for (int64_t j = 0; j < T_; ++j) {
          P[i * T_ + j] = std::exp(P[i * T_ + j] - max) / sum;
          const uint64_t index = uint64_t((h * N + s0 + i) * N + s0 + j);
          M[i * T_ + j] = philox_uniform(pr.key, index) >= pr.p ? 1 / (1 - double(pr.p)) : 0;
        }
      }
      for (int64_t i = 0; i < T_; ++i)
        for (int64_t j = 0; j < T_; ++j)
          for (int64_t c = 0; c < HS; ++c) {
            const double pm = P[i * T_ + j] * M[i * T_ + j];
            ref.out[(s0 + i) * C + h * HS + c] += pm * x(s0 + j, 2, h, c);
            dx(s0 + j, 2, h, c) += pm * dout[(s0 + i) * C + h * HS + c];
            dP[i * T_ + j] += dout[(s0 + i) * C + h * HS + c] * x(s0 + j, 2, h, c) * M[i * T_ + j];
          }
      // Softmax backward in its textbook form: dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik).
      for (int64_t i = 0; i < T_; ++i) {
        double row = 0;
        for (int64_t j = 0; j < T_; ++j) row += P[i * T_ + j] * dP[i * T_ + j];
        for (int64_t j = 0; j < T_; ++j) {
          const double dS = P[i * T_ + j] * (dP[i * T_ + j] - row) * scale;
          for (int64_t c = 0; c < HS; ++c) {
            dx(s0 + i, 0, h, c) += dS * x(s0 + j, 1, h, c);
            dx(s0 + j, 1, h, c) += dS * x(s0 + i, 0, h, c);
          }
        }
      }
    }
  }
  return ref;
}

template <typename T> std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T> void expect_matches_reference(float p, double tolerance) {
  Problem<T> pr({5, 1, 0, 17, 67}, 24, 3, p, 11);  // 67 spans two query tiles
  const std::vector<double> dout = random_vector<double>(pr.N * pr.C, 12);
  const Reference ref = naive_attention(pr, dout);
  std::vector<T> lse;
  const std::vector<T> out = pr.forward(&lse);
  std::vector<T> dqkv(pr.qkv.size());
  pr.backward(dqkv, std::vector<T>(dout.begin(), dout.end()));
  EXPECT_LT(relative_error(to_double(out).data(), ref.out.data(), pr.N * pr.C), tolerance);
  EXPECT_LT(relative_error(to_double(lse).data(), ref.lse.data(), pr.NH * pr.N), tolerance);
  EXPECT_LT(relative_error(to_double(dqkv).data(), ref.dqkv.data(), pr.N * 3 * pr.C), tolerance);
}

TEST(Attention, MatchesNaiveReferenceDouble) { expect_matches_reference<double>(0, 1e-12); }
TEST(Attention, MatchesNaiveReferenceFloat) { expect_matches_reference<float>(0, 1e-5); }
TEST(Attention, MatchesNaiveReferenceWithDropout) {
  expect_matches_reference<double>(0.3f, 1e-12);
  expect_matches_reference<float>(0.3f, 1e-5);
}

// Central differences of sum(w * out) over every qkv entry. The dropout mask depends only
// on the key and indices, not on qkv, so finite differences apply with dropout too.
void expect_gradient_matches_finite_differences(float p) {
  Problem<double> pr({3, 1, 6, 4}, 6, 2, p, 21);
  const std::vector<double> w = random_vector<double>(pr.N * pr.C, 22);
  std::vector<double> dqkv(pr.qkv.size());
  pr.backward(dqkv, w);
  auto loss = [&] {
    const std::vector<double> out = pr.forward();
    return std::inner_product(out.begin(), out.end(), w.begin(), 0.0);
  };
  const double err =
      testing::gradient_error(loss, pr.qkv.data(), dqkv.data(), int64_t(dqkv.size()));
  EXPECT_LT(err, 1e-6);
  EXPECT_GT(std::sqrt(std::inner_product(dqkv.begin(), dqkv.end(), dqkv.begin(), 0.0)), 0.1);
}

TEST(Attention, GradientMatchesFiniteDifferences) { expect_gradient_matches_finite_differences(0); }
TEST(Attention, GradientWithDropoutMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(0.3f);
}

// A batch gives each sequence exactly what it gets alone; the backward accumulates (+=).
TEST(Attention, UnpaddedBatchEqualsSequencesAlone) {
  const std::vector<int32_t> lengths{7, 1, 30, 12};
  Problem<double> batch(lengths, 16, 4, 0, 31);
  const std::vector<double> dout = random_vector<double>(batch.N * batch.C, 32);
  const std::vector<double> dqkv_before = random_vector<double>(batch.N * 3 * batch.C, 33);
  std::vector<double> dqkv = dqkv_before;
  batch.backward(dqkv, dout);
  const std::vector<double> out = batch.forward();
  for (size_t b = 0; b < lengths.size(); ++b) {
    const int64_t s0 = batch.cu[b], n = lengths[b], C = batch.C;
    Problem<double> alone({lengths[b]}, C, 4, 0, 0);
    alone.qkv.assign(batch.qkv.begin() + s0 * 3 * C, batch.qkv.begin() + (s0 + n) * 3 * C);
    std::vector<double> d(dqkv_before.begin() + s0 * 3 * C, dqkv_before.begin() + (s0 + n) * 3 * C);
    alone.backward(d, std::vector<double>(dout.begin() + s0 * C, dout.begin() + (s0 + n) * C));
    const std::vector<double> o = alone.forward();
    EXPECT_LT(relative_error(o.data(), out.data() + s0 * C, n * C), 1e-14) << "sequence " << b;
    EXPECT_LT(relative_error(d.data(), dqkv.data() + s0 * 3 * C, n * 3 * C), 1e-14)
        << "sequence " << b;
  }
}

// Gradients add onto what dqkv already holds (residual branches and accumulation rely on it).
TEST(Attention, BackwardAccumulates) {
  Problem<double> pr({70, 5}, 8, 2, 0.2f, 35);  // 70 spans two query tiles
  const std::vector<double> dout = random_vector<double>(pr.N * pr.C, 36);
  std::vector<double> fresh(pr.qkv.size());
  pr.backward(fresh, dout);
  const std::vector<double> before = random_vector<double>(pr.N * 3 * pr.C, 37);
  std::vector<double> accumulated = before;
  pr.backward(accumulated, dout);
  for (size_t i = 0; i < fresh.size(); ++i) fresh[i] += before[i];
  EXPECT_LT(relative_error(accumulated.data(), fresh.data(), int64_t(fresh.size())), 1e-14);
}

// q = 0 makes every score 0: each query averages v over its own sequence, lse = log T.
TEST(Attention, UniformScoresAverageValues) {
  Problem<float> pr({4, 1}, 4, 2, 0, 41);
  for (int64_t n = 0; n < pr.N; ++n)
    for (int64_t c = 0; c < pr.C; ++c) pr.qkv[n * 12 + c] = 0;
  std::vector<float> lse;
  const std::vector<float> out = pr.forward(&lse);
  for (int64_t c = 0; c < pr.C; ++c) {
    float mean = 0;
    for (int64_t n = 0; n < 4; ++n) mean += pr.qkv[n * 12 + 8 + c] / 4;
    for (int64_t n = 0; n < 4; ++n) EXPECT_NEAR(out[n * 4 + c], mean, 1e-6);
    EXPECT_FLOAT_EQ(out[4 * 4 + c], pr.qkv[4 * 12 + 8 + c]);  // length 1: its own v
  }
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t n = 0; n < 4; ++n) EXPECT_NEAR(lse[h * 5 + n], std::log(4.0f), 1e-6);
    EXPECT_FLOAT_EQ(lse[h * 5 + 4], 0);
  }
}

TEST(Attention, ExtremeScoresStayFinite) {
  Problem<float> pr({9, 3}, 8, 2, 0.1f, 51);
  for (float& x : pr.qkv) x = x > 0 ? 150 : -150;  // scores up to ±90000 / sqrt(HS)
  std::vector<float> dqkv(pr.qkv.size());
  pr.backward(dqkv, random_vector<float>(pr.N * pr.C, 52));
  std::vector<float> lse;
  const std::vector<float> out = pr.forward(&lse);
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
  for (float v : lse) EXPECT_TRUE(std::isfinite(v));
  for (float v : dqkv) EXPECT_TRUE(std::isfinite(v));
}

TEST(Attention, DropoutIsReproducibleAndKeyed) {
  Problem<float> pr({16, 9}, 8, 2, 0.3f, 61);
  const std::vector<float> first = pr.forward();
  EXPECT_EQ(pr.forward(), first);
  pr.key.step += 1;
  EXPECT_NE(pr.forward(), first);
  pr.key.step -= 1;
  pr.p = 0;
  EXPECT_NE(pr.forward(), first);
}

// Statistics of the mask: with uniform scores and v = 1, out = (kept keys) / (T (1 - p)),
// so the mean over queries estimates 1 with standard error ~ sqrt(p / (1 - p) / count).
TEST(Attention, DropoutKeepsOneMinusPOnAverage) {
  Problem<double> pr({200, 200}, 2, 1, 0.3f, 71);
  for (int64_t n = 0; n < pr.N; ++n) {
    pr.qkv[n * 6 + 0] = pr.qkv[n * 6 + 1] = 0;
    pr.qkv[n * 6 + 4] = pr.qkv[n * 6 + 5] = 1;
  }
  const std::vector<double> out = pr.forward();
  const double mean = std::accumulate(out.begin(), out.end(), 0.0) / double(out.size());
  EXPECT_NEAR(mean, 1.0, 5 * std::sqrt(0.3 / 0.7 / (400 * 200)));  // 5 sigma
}

// The CPU has one kernel: auto and reference run it; fused is refused, in every dtype.
TEST(Attention, KernelChoiceOnTheCpu) {
  std::vector<float> qkv = random_vector<float>(5 * 12, 3, -2, 2), out(5 * 4), lse(2 * 5);
  std::vector<int32_t> cu{0, 2, 5};
  std::vector<uint16_t> qkv16(qkv.size()), out16(out.size());
  auto forward = [&](AttentionKernel kernel, DType dtype) {
    Ctx ctx;
    ctx.attention = kernel;
    const bool f32 = dtype == DType::F32;
    void* out_data = f32 ? static_cast<void*>(out.data()) : out16.data();
    void* qkv_data = f32 ? static_cast<void*>(qkv.data()) : qkv16.data();
    attention_forward(ctx, Tensor{out_data, {5, 4}, dtype, Device::CPU}, host_tensor(lse, {2, 5}),
                      Tensor{qkv_data, {5, 12}, dtype, Device::CPU}, host_tensor(cu, {3}), 2, 0.1f,
                      dropout_key());
    return out;
  };
  const std::vector<float> by_auto = forward(AttentionKernel::AUTO, DType::F32);
  EXPECT_EQ(forward(AttentionKernel::REFERENCE, DType::F32), by_auto);
  for (DType dtype : {DType::F32, DType::BF16}) {
    testing::expect_error([&] { forward(AttentionKernel::FUSED, dtype); },
                          "the fused attention runs BF16/F16 tensors on a GPU");
    testing::expect_error([&] { forward(AttentionKernel::CUDNN, dtype); },
                          "cuDNN's attention runs BF16/F16 tensors on a GPU");
  }
}

TEST(Attention, RejectsBadArguments) {
  std::vector<float> qkv(5 * 12), out(5 * 4), lse(2 * 5);
  std::vector<int32_t> cu{0, 2, 5};
  std::vector<double> lse64(2 * 5);
  Ctx ctx;
  auto forward = [&](Shape qkv_shape, int heads, float p) {
    attention_forward(ctx, host_tensor(out, {5, 4}), host_tensor(lse, {2, 5}),
                      host_tensor(qkv, qkv_shape), host_tensor(cu, {3}), heads, p, dropout_key());
  };
  EXPECT_NO_THROW(forward({5, 12}, 2, 0.1f));
  EXPECT_THROW(forward({5, 12}, 3, 0), Error);  // C = 4 not divisible by 3 heads
  EXPECT_THROW(forward({5, 12}, 0, 0), Error);
  EXPECT_THROW(forward({5, 12}, 2, 1), Error);  // p must be < 1
  EXPECT_THROW(forward({5, 12}, 2, -0.1f), Error);
  EXPECT_THROW(forward({12, 5}, 2, 0), Error);  // not (N, 3C)
  for (const std::vector<int32_t>& bad : {std::vector<int32_t>{1, 2, 5}, {0, 3, 2}, {0, 2, 4}}) {
    cu = bad;
    EXPECT_THROW(forward({5, 12}, 2, 0), Error) << bad[0] << bad[1] << bad[2];
  }
  cu = {0, 2, 5};
  EXPECT_THROW(
      attention_forward(ctx, host_tensor(out, {5, 4}), host_tensor(lse64, {2, 5}),
                        host_tensor(qkv, {5, 12}), host_tensor(cu, {3}), 2, 0, dropout_key()),
      Error);  // mixed dtypes
  EXPECT_THROW(
      attention_backward(ctx, host_tensor(qkv, {5, 12}), host_tensor(out, {5, 4}),
                         host_tensor(out, {4, 5}), host_tensor(qkv, {5, 12}),
                         host_tensor(lse, {2, 5}), host_tensor(cu, {3}), 2, 0, dropout_key()),
      Error);  // out of the wrong shape
  Ctx cuda{Device::CUDA};
  Tensor on_cpu = host_tensor(qkv, {5, 12});
  EXPECT_THROW(attention_forward(cuda, host_tensor(out, {5, 4}), host_tensor(lse, {2, 5}), on_cpu,
                                 host_tensor(cu, {3}), 2, 0, dropout_key()),
               Error);  // wrong device
}

}  // namespace
}  // namespace masklm
