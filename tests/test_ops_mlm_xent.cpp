// mlm_xent_forward/backward on the CPU: finite differences in double for dh, demb and
// dbias at several chunk sizes, an independent reference with the full (P, V) logits,
// hand-computed cases, extreme logits, `correct`, and argument validation.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "gradcheck.h"
#include "kernels/ops.h"

namespace masklm {
namespace {

using testing::random_vector;
using testing::relative_error;

// One head problem: P rows of h against a V-entry vocabulary.
template <typename T> struct Head {
  int64_t P, C, V;
  std::vector<T> h, emb, bias;  // bias empty = no bias
  std::vector<int32_t> labels;

  Head(int64_t P_, int64_t C_, int64_t V_, uint32_t seed, bool with_bias = true)
      : P(P_),
        C(C_),
        V(V_),
        h(random_vector<T>(P * C, seed, -2, 2)),
        emb(random_vector<T>(V * C, seed + 1, -2, 2)),
        bias(with_bias ? random_vector<T>(V, seed + 2) : std::vector<T>{}) {
    for (int64_t p = 0; p < P; ++p) labels.push_back(int32_t((p * 7 + seed) % V));
  }

  Tensor bias_tensor() { return bias.empty() ? Tensor{} : host_tensor(bias, {V}); }

  struct Outputs {
    std::vector<T> losses, lse;
    std::vector<int32_t> correct;
  };
  Outputs forward(int64_t chunk) {
    Outputs o{std::vector<T>(P), std::vector<T>(P), std::vector<int32_t>(P, -1)};
    Ctx ctx;
    mlm_xent_forward(ctx, host_tensor(o.losses, {P}), host_tensor(o.lse, {P}),
                     host_tensor(o.correct, {P}), host_tensor(h, {P, C}), host_tensor(emb, {V, C}),
                     bias_tensor(), host_tensor(labels, {P}), chunk);
    return o;
  }

  // Adds the gradients of scale * sum(losses) into dh, demb, dbias (each may be empty).
  void backward(std::vector<T>& dh, std::vector<T>& demb, std::vector<T>& dbias, double scale,
                int64_t chunk) {
    std::vector<T> lse = forward(chunk).lse;
    Ctx ctx;
    auto grad = [](std::vector<T>& g, Shape s) { return g.empty() ? Tensor{} : host_tensor(g, s); };
    mlm_xent_backward(ctx, grad(dh, {P, C}), grad(demb, {V, C}), grad(dbias, {V}),
                      host_tensor(h, {P, C}), host_tensor(emb, {V, C}), bias_tensor(),
                      host_tensor(labels, {P}), host_tensor(lse, {P}), scale, chunk);
  }
};

// Independent reference in double with the full (P, V) logit matrix.
struct Reference {
  std::vector<double> losses, lse, dh, demb, dbias;
  std::vector<int32_t> correct;
};

template <typename T> Reference naive_xent(const Head<T>& x, double scale) {
  const int64_t P = x.P, C = x.C, V = x.V;
  Reference r{std::vector<double>(P),     std::vector<double>(P), std::vector<double>(P * C),
              std::vector<double>(V * C), std::vector<double>(V), std::vector<int32_t>(P)};
  std::vector<double> logits(P * V);
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t v = 0; v < V; ++v) {
      double s = x.bias.empty() ? 0 : double(x.bias[v]);
      for (int64_t c = 0; c < C; ++c) s += double(x.h[p * C + c]) * double(x.emb[v * C + c]);
      logits[p * V + v] = s;
    }
    const double* row = &logits[p * V];
    const int64_t argmax = std::max_element(row, row + V) - row;
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - row[argmax]);
    r.lse[p] = row[argmax] + std::log(sum);
    r.losses[p] = r.lse[p] - row[x.labels[p]];
    r.correct[p] = argmax == x.labels[p];
    for (int64_t v = 0; v < V; ++v) {
      const double d = scale * (std::exp(row[v] - r.lse[p]) - (v == x.labels[p]));
      r.dbias[v] += d;
      for (int64_t c = 0; c < C; ++c) {
        r.dh[p * C + c] += d * double(x.emb[v * C + c]);
        r.demb[v * C + c] += d * double(x.h[p * C + c]);
      }
    }
  }
  return r;
}

template <typename T> double error(const std::vector<T>& a, const std::vector<double>& b) {
  const std::vector<double> ad(a.begin(), a.end());
  return relative_error(ad.data(), b.data(), int64_t(b.size()));
}

// Chunk sizes: one entry, a non-divisor, divisors, exactly V, and more than V.
constexpr int64_t kV = 36;
const std::vector<int64_t> kChunks{1, 5, 7, 12, kV, kV + 9};

template <typename T> void expect_matches_reference(bool with_bias, double tolerance) {
  Head<T> x(11, 9, kV, 3, with_bias);
  const Reference ref = naive_xent(x, 0.37);
  for (int64_t chunk : kChunks) {
    SCOPED_TRACE(::testing::Message() << "chunk " << chunk);
    const auto out = x.forward(chunk);
    EXPECT_LT(error(out.losses, ref.losses), tolerance);
    EXPECT_LT(error(out.lse, ref.lse), tolerance);
    EXPECT_EQ(out.correct, ref.correct);
    std::vector<T> dh(x.P * x.C), demb(x.V * x.C), dbias(with_bias ? x.V : 0);
    x.backward(dh, demb, dbias, 0.37, chunk);
    EXPECT_LT(error(dh, ref.dh), tolerance);
    EXPECT_LT(error(demb, ref.demb), tolerance);
    if (with_bias) {
      EXPECT_LT(error(dbias, ref.dbias), tolerance);
    }
  }
}

TEST(MlmXent, MatchesFullLogitReferenceDouble) { expect_matches_reference<double>(true, 1e-12); }
TEST(MlmXent, MatchesFullLogitReferenceFloat) { expect_matches_reference<float>(true, 1e-5); }
TEST(MlmXent, MatchesFullLogitReferenceWithoutBias) {
  expect_matches_reference<double>(false, 1e-12);
}

// Central differences of scale * sum(losses) with respect to h, emb and bias; a prime V
// keeps the problem small while 5 and 7 still leave a partial last chunk.
TEST(MlmXent, GradientsMatchFiniteDifferences) {
  for (int64_t chunk : {1, 5, 7, 13, 20}) {
    SCOPED_TRACE(::testing::Message() << "chunk " << chunk);
    Head<double> x(5, 4, 13, 8);
    const double scale = 0.61;
    std::vector<double> dh(x.P * x.C), demb(x.V * x.C), dbias(x.V);
    x.backward(dh, demb, dbias, scale, chunk);
    auto loss = [&] {
      const auto losses = x.forward(chunk).losses;
      return scale * std::accumulate(losses.begin(), losses.end(), 0.0);
    };
    EXPECT_LT(testing::gradient_error(loss, x.h.data(), dh.data(), int64_t(dh.size())), 1e-6);
    EXPECT_LT(testing::gradient_error(loss, x.emb.data(), demb.data(), int64_t(demb.size())), 1e-6);
    EXPECT_LT(testing::gradient_error(loss, x.bias.data(), dbias.data(), int64_t(dbias.size())),
              1e-6);
  }
}

// Gradients add onto what the buffers hold; an empty gradient is skipped.
TEST(MlmXent, BackwardAccumulatesAndSkipsEmptyGradients) {
  Head<double> x(6, 5, 17, 12);
  std::vector<double> dh(x.P * x.C), demb(x.V * x.C), dbias(x.V);
  x.backward(dh, demb, dbias, 1.0, 4);
  std::vector<double> dh2 = random_vector<double>(x.P * x.C, 13), none;
  const std::vector<double> before = dh2;
  x.backward(dh2, none, none, 1.0, 4);
  for (size_t i = 0; i < dh.size(); ++i) EXPECT_NEAR(dh2[i], before[i] + dh[i], 1e-12);
}

// V = 2, C = 1, h = 1: logits are [0, log 3], so lse = log 4 and the losses are log 4 for
// label 0 and log(4/3) for label 1; argmax is 1. Softmax is [1/4, 3/4].
TEST(MlmXent, TwoWordVocabularyByHand) {
  Head<double> x(2, 1, 2, 0);
  x.h = {1, 1};
  x.emb = {0, std::log(3.0)};
  x.bias = {0, 0};
  x.labels = {0, 1};
  const auto out = x.forward(1);
  EXPECT_NEAR(out.lse[0], std::log(4.0), 1e-15);
  EXPECT_NEAR(out.losses[0], std::log(4.0), 1e-15);
  EXPECT_NEAR(out.losses[1], std::log(4.0 / 3.0), 1e-15);
  EXPECT_EQ(out.correct, (std::vector<int32_t>{0, 1}));
  std::vector<double> dh(2), demb(2), dbias(2);
  x.backward(dh, demb, dbias, 1.0, 2);
  // dlogit rows: [1/4 - 1, 3/4] and [1/4, 3/4 - 1]; dbias sums them, dh = dlogit @ emb.
  EXPECT_NEAR(dbias[0], -0.5, 1e-15);
  EXPECT_NEAR(dbias[1], 0.5, 1e-15);
  EXPECT_NEAR(dh[0], 0.75 * std::log(3.0), 1e-15);
  EXPECT_NEAR(dh[1], -0.25 * std::log(3.0), 1e-15);
}

TEST(MlmXent, ExtremeLogitsStayFinite) {
  Head<float> x(4, 1, 3, 0);
  x.h = {1, 1, -1, 1};
  x.emb = {150, -150, 0};
  x.bias = {0, 0, 0};
  x.labels = {0, 1, 0, 2};
  for (int64_t chunk : {1, 2, 3}) {
    const auto out = x.forward(chunk);
    EXPECT_NEAR(out.losses[0], 0, 1e-6);
    EXPECT_NEAR(out.losses[1], 300, 1e-3);
    EXPECT_NEAR(out.losses[2], 300, 1e-3);  // h = -1 flips the logits
    EXPECT_NEAR(out.losses[3], 150, 1e-3);
    std::vector<float> dh(4), demb(3), dbias(3);
    x.backward(dh, demb, dbias, 1.0, chunk);
    for (const auto* g : {&dh, &demb, &dbias})
      for (float v : *g) EXPECT_TRUE(std::isfinite(v));
    EXPECT_NEAR(dh[1], 300, 1e-3);  // dlogit = [1, -1, 0] against emb [150, -150, 0]
  }
}

// `correct` is 1 exactly where argmax == label; ties go to the first maximum.
TEST(MlmXent, CorrectMarksArgmaxHits) {
  Head<double> x(40, 6, 23, 21);
  const Reference ref = naive_xent(x, 1);
  for (int64_t p = 0; p < x.P; p += 2) {  // make every even row a hit
    double best = -INFINITY;
    for (int32_t v = 0; v < x.V; ++v) {
      double s = x.bias[v];
      for (int64_t c = 0; c < x.C; ++c) s += x.h[p * x.C + c] * x.emb[v * x.C + c];
      if (s > best) best = s, x.labels[p] = v;
    }
  }
  const auto out = x.forward(5);
  for (int64_t p = 0; p < x.P; ++p) EXPECT_EQ(out.correct[p], p % 2 == 0 ? 1 : ref.correct[p]) << p;
  EXPECT_GE(std::accumulate(out.correct.begin(), out.correct.end(), 0), 20);
  Head<double> tie(1, 1, 3, 0, false);
  tie.h = {1};
  tie.emb = {2, 2, 1};
  tie.labels = {1};
  EXPECT_EQ(tie.forward(1).correct[0], 0);  // argmax is 0, the first of the tied maxima
  tie.labels = {0};
  EXPECT_EQ(tie.forward(2).correct[0], 1);
}

TEST(MlmXent, RejectsBadArguments) {
  Head<float> x(3, 4, 5, 0);
  std::vector<float> losses(3), lse(3);
  Ctx ctx;
  auto forward = [&](int64_t chunk) {
    mlm_xent_forward(ctx, host_tensor(losses, {3}), host_tensor(lse, {3}), Tensor{},
                     host_tensor(x.h, {3, 4}), host_tensor(x.emb, {5, 4}), x.bias_tensor(),
                     host_tensor(x.labels, {3}), chunk);
  };
  EXPECT_NO_THROW(forward(2));
  EXPECT_THROW(forward(0), Error);
  for (int32_t bad : {-1, 5}) {
    x.labels[1] = bad;
    EXPECT_THROW(forward(2), Error) << bad;
  }
  x.labels[1] = 0;
  EXPECT_THROW(mlm_xent_forward(ctx, host_tensor(losses, {3}), host_tensor(lse, {3}), Tensor{},
                                host_tensor(x.h, {3, 4}), host_tensor(x.emb, {4, 5}), Tensor{},
                                host_tensor(x.labels, {3}), 2),
               Error);  // emb (V, C) with the wrong C
  EXPECT_THROW(mlm_xent_forward(ctx, host_tensor(losses, {3}), host_tensor(lse, {3}), Tensor{},
                                host_tensor(x.h, {3, 4}), host_tensor(x.emb, {5, 4}),
                                host_tensor(x.bias, {4}), host_tensor(x.labels, {3}), 2),
               Error);  // bias of the wrong length
  std::vector<double> lse64(3);
  EXPECT_THROW(mlm_xent_forward(ctx, host_tensor(losses, {3}), host_tensor(lse64, {3}), Tensor{},
                                host_tensor(x.h, {3, 4}), host_tensor(x.emb, {5, 4}), Tensor{},
                                host_tensor(x.labels, {3}), 2),
               Error);  // mixed dtypes
  std::vector<float> dh_wrong(5);
  EXPECT_THROW(mlm_xent_backward(ctx, host_tensor(dh_wrong, {5}), Tensor{}, Tensor{},
                                 host_tensor(x.h, {3, 4}), host_tensor(x.emb, {5, 4}), Tensor{},
                                 host_tensor(x.labels, {3}), host_tensor(lse, {3}), 1.0, 2),
               Error);  // dh of the wrong shape
  ctx.device = Device::CUDA;
  EXPECT_THROW(forward(2), Error);  // host tensors with a CUDA context
}

}  // namespace
}  // namespace masklm
