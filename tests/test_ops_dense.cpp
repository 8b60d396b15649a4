// CPU dense ops (kernels/ops_dense.cpp): finite-difference gradients in double for every
// backward, float-vs-double agreement, hand-computed cases, the dropout RNG contract, and
// argument validation.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "kernels/ops.h"
#include "runtime/device.h"
#include "runtime/threads.h"

namespace masklm {
namespace {

using testing::expect_error;

using testing::gradient_error;
using testing::random_vector;
using testing::relative_error;


double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A gradient buffer pre-filled with noise, so a backward that overwrites instead of
// accumulating fails the gradient check.
struct Grad {
  std::vector<double> noise, data;
  Grad(size_t n, uint32_t seed) : noise(random_vector<double>(static_cast<int64_t>(n), seed)), data(noise) {}
  Tensor tensor(Shape s) { return host_tensor(data, s); }
  std::vector<double> added() const {
    std::vector<double> g(data.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = data[i] - noise[i];
    return g;
  }
};

// What backward added to `grad` must be non-zero (so the check can fail) and match central
// differences of loss() with respect to x.
void expect_gradient(const std::function<double()>& loss, std::vector<double>& x, const Grad& grad,
                     const char* what) {
  const std::vector<double> analytic = grad.added();
  EXPECT_GT(dot(analytic, analytic), 0) << what;
  EXPECT_LT(gradient_error(loss, x.data(), analytic.data(), static_cast<int64_t>(x.size())), 1e-6)
      << what;
}

// Runs a computation for float and double on the same inputs; the results agree to float
// precision.
template <typename Fn> void expect_float_matches_double(Fn&& run, double tolerance = 1e-5) {
  const std::vector<double> f = run.template operator()<float>();
  const std::vector<double> d = run.template operator()<double>();
  ASSERT_EQ(f.size(), d.size());
  EXPECT_GT(dot(d, d), 0);
  EXPECT_LT(relative_error(f.data(), d.data(), static_cast<int64_t>(d.size())), tolerance);
}

template <typename T> void append(std::vector<double>& all, const std::vector<T>& v) {
  all.insert(all.end(), v.begin(), v.end());
}

Ctx cpu_ctx;

// ---- embeddings ------------------------------------------------------------------

void check_embedding_gradients(bool with_types) {
  const int64_t N = 9, C = 6, V = 5, max_positions = 4, type_vocab = 2;
  std::vector<int32_t> tokens{0, 3, 3, 1, 4, 0, 3, 2, 1};  // repeats must accumulate
  std::vector<int32_t> positions{0, 1, 2, 3, 0, 1, 2, 3, 0};
  std::vector<int32_t> types{0, 0, 1, 1, 0, 1, 0, 0, 1};
  auto wte = random_vector<double>(V * C, 1), wpe = random_vector<double>(max_positions * C, 2);
  auto wtt = random_vector<double>(type_vocab * C, 3), w = random_vector<double>(N * C, 4);
  std::vector<double> out(N * C);
  const Tensor types_t = with_types ? host_tensor(types) : Tensor{};
  auto loss = [&] {
    embedding_forward(cpu_ctx, host_tensor(out, {N, C}), host_tensor(tokens), host_tensor(positions), types_t,
                      host_tensor(wte, {V, C}), host_tensor(wpe, {max_positions, C}),
                      with_types ? host_tensor(wtt, {type_vocab, C}) : Tensor{});
    return dot(w, out);
  };
  Grad dwte(wte.size(), 5), dwpe(wpe.size(), 6), dwtt(wtt.size(), 7);
  embedding_backward(cpu_ctx, dwte.tensor({V, C}), dwpe.tensor({max_positions, C}),
                     with_types ? dwtt.tensor({type_vocab, C}) : Tensor{}, host_tensor(w, {N, C}),
                     host_tensor(tokens), host_tensor(positions), types_t);
  expect_gradient(loss, wte, dwte, "wte");
  expect_gradient(loss, wpe, dwpe, "wpe");
  if (with_types) expect_gradient(loss, wtt, dwtt, "wtt");
}

TEST(Embedding, GradientsMatchFiniteDifferences) { check_embedding_gradients(false); }
TEST(Embedding, GradientsWithTypesMatchFiniteDifferences) { check_embedding_gradients(true); }

TEST(Embedding, SumsTheRowsOfEachTable) {
  std::vector<int32_t> tokens{2, 0}, positions{1, 1}, types{1, 0};
  std::vector<float> wte{1, 2, 10, 20, 100, 200}, wpe{0.5f, 0.25f, 3, 4}, wtt{1000, 0, 0, 1000};
  std::vector<float> out(4);
  embedding_forward(cpu_ctx, host_tensor(out, {2, 2}), host_tensor(tokens), host_tensor(positions), host_tensor(types),
                    host_tensor(wte, {3, 2}), host_tensor(wpe, {2, 2}), host_tensor(wtt, {2, 2}));
  EXPECT_EQ(out, (std::vector<float>{103, 1204, 1004, 6}));
}

// ---- layernorm -------------------------------------------------------------------

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  const int64_t N = 3, C = 7;
  auto in = random_vector<double>(N * C, 10, -1, 3), weight = random_vector<double>(C, 11, 0.5, 1.5);
  auto bias = random_vector<double>(C, 12), w = random_vector<double>(N * C, 13);
  std::vector<double> out(N * C), mean(N), rstd(N);
  auto forward = [&] {
    layernorm_forward(cpu_ctx, host_tensor(out, {N, C}), host_tensor(mean, {N}), host_tensor(rstd, {N}),
                      host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(bias, {C}), 1e-5);
  };
  auto loss = [&] { forward(); return dot(w, out); };
  forward();
  Grad din(in.size(), 14), dweight(weight.size(), 15), dbias(bias.size(), 16);
  layernorm_backward(cpu_ctx, din.tensor({N, C}), dweight.tensor({C}), dbias.tensor({C}),
                     host_tensor(w, {N, C}), host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(mean, {N}),
                     host_tensor(rstd, {N}));
  expect_gradient(loss, in, din, "in");
  expect_gradient(loss, weight, dweight, "weight");
  expect_gradient(loss, bias, dbias, "bias");
}

TEST(LayerNorm, HandComputedRow) {
  // [1, 2, 3]: mean 2, variance 2/3, rstd sqrt(3/2).
  const double r = std::sqrt(1.5);
  std::vector<double> in{1, 2, 3}, weight{2, -1, 0.5}, bias{1, 1, 1}, out(3), mean(1), rstd(1);
  layernorm_forward(cpu_ctx, host_tensor(out, {1, 3}), host_tensor(mean, {1}), host_tensor(rstd, {1}), host_tensor(in, {1, 3}),
                    host_tensor(weight, {3}), host_tensor(bias, {3}), 0.0);
  EXPECT_DOUBLE_EQ(mean[0], 2.0);
  EXPECT_DOUBLE_EQ(rstd[0], r);
  EXPECT_DOUBLE_EQ(out[0], 1 - 2 * r);
  EXPECT_DOUBLE_EQ(out[1], 1.0);
  EXPECT_DOUBLE_EQ(out[2], 1 + 0.5 * r);
}

// The fused op on a hand-computed row: a + b = [1, 2, 3] (the row above), kept as `sum`.
TEST(ResidualLayerNorm, HandComputedRowAndItsSum) {
  const double r = std::sqrt(1.5);
  std::vector<double> a{0.5, 2, 4}, b{0.5, 0, -1}, weight{2, -1, 0.5}, bias{1, 1, 1};
  std::vector<double> sum(3), out(3), mean(1), rstd(1);
  residual_layernorm_forward(cpu_ctx, host_tensor(sum, {1, 3}), host_tensor(out, {1, 3}),
                             host_tensor(mean, {1}), host_tensor(rstd, {1}), host_tensor(a, {1, 3}),
                             host_tensor(b, {1, 3}), host_tensor(weight, {3}),
                             host_tensor(bias, {3}), 0.0);
  EXPECT_EQ(sum, (std::vector<double>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(mean[0], 2.0);
  EXPECT_DOUBLE_EQ(rstd[0], r);
  EXPECT_DOUBLE_EQ(out[0], 1 - 2 * r);
  EXPECT_DOUBLE_EQ(out[1], 1.0);
  EXPECT_DOUBLE_EQ(out[2], 1 + 0.5 * r);
  expect_error(
      [&] {
        residual_layernorm_forward(cpu_ctx, host_tensor(sum, {1, 3}), host_tensor(a, {1, 3}),
                                   host_tensor(mean, {1}), host_tensor(rstd, {1}),
                                   host_tensor(a, {1, 3}), host_tensor(b, {1, 3}),
                                   host_tensor(weight, {3}), host_tensor(bias, {3}), 0.0);
      },
      "out must not alias sum, a or b");
  std::vector<double> ab{0.5, 2, 4, 0.5, 0, -1};  // a and b as rows of one buffer
  const Tensor a_row = host_tensor(ab, {2, 3}).rows(0, 1), b_row = host_tensor(ab, {2, 3}).rows(1, 2);
  residual_layernorm_forward(cpu_ctx, a_row, host_tensor(out, {1, 3}), host_tensor(mean, {1}),
                             host_tensor(rstd, {1}), a_row, b_row, host_tensor(weight, {3}),
                             host_tensor(bias, {3}), 0.0);  // in place: sum = a
  EXPECT_EQ(std::vector<double>(ab.begin(), ab.begin() + 3), (std::vector<double>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(out[1], 1.0);
  const Tensor shifted{ab.data() + 1, Shape{1, 3}, DType::F64, Device::CPU};  // overlaps a
  expect_error(
      [&] {
        residual_layernorm_forward(cpu_ctx, shifted, host_tensor(out, {1, 3}), host_tensor(mean, {1}),
                                   host_tensor(rstd, {1}), a_row, b_row, host_tensor(weight, {3}),
                                   host_tensor(bias, {3}), 0.0);
      },
      "sum may be a or b");
}

TEST(LayerNorm, FloatStaysAccurateFarFromZero) {
  // A one-pass float variance loses every digit here; the two-pass double one does not.
  std::vector<float> in{10001, 10002, 10003}, weight{1, 1, 1}, bias{0, 0, 0}, out(3), mean(1), rstd(1);
  layernorm_forward(cpu_ctx, host_tensor(out, {1, 3}), host_tensor(mean, {1}), host_tensor(rstd, {1}), host_tensor(in, {1, 3}),
                    host_tensor(weight, {3}), host_tensor(bias, {3}), 0.0);
  EXPECT_NEAR(out[0], -std::sqrt(1.5), 1e-5);
  EXPECT_NEAR(out[1], 0.0, 1e-5);
  EXPECT_NEAR(out[2], std::sqrt(1.5), 1e-5);
}

TEST(LayerNorm, FloatMatchesDouble) {
  expect_float_matches_double([]<typename T>() {
    const int64_t N = 64, C = 771;
    auto in = random_vector<T>(N * C, 20, -2, 4), weight = random_vector<T>(C, 21);
    auto bias = random_vector<T>(C, 22), dout = random_vector<T>(N * C, 23);
    std::vector<T> out(N * C), mean(N), rstd(N), din(N * C), dweight(C), dbias(C);
    layernorm_forward(cpu_ctx, host_tensor(out, {N, C}), host_tensor(mean, {N}), host_tensor(rstd, {N}),
                      host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(bias, {C}), 1e-5);
    layernorm_backward(cpu_ctx, host_tensor(din, {N, C}), host_tensor(dweight, {C}), host_tensor(dbias, {C}),
                       host_tensor(dout, {N, C}), host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(mean, {N}),
                       host_tensor(rstd, {N}));
    std::vector<double> all;
    for (const auto* v : {&out, &din, &dweight, &dbias}) append(all, *v);
    return all;
  });
}

// ---- matmul ----------------------------------------------------------------------

TEST(Matmul, GradientsMatchFiniteDifferences) {
  const int64_t N = 7, I = 13, O = 5;
  auto in = random_vector<double>(N * I, 30), weight = random_vector<double>(O * I, 31);
  auto bias = random_vector<double>(O, 32), w = random_vector<double>(N * O, 33);
  std::vector<double> out(N * O);
  auto loss = [&] {
    matmul_forward(cpu_ctx, host_tensor(out, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}), host_tensor(bias, {O}));
    return dot(w, out);
  };
  Grad din(in.size(), 34), dweight(weight.size(), 35), dbias(bias.size(), 36);
  matmul_backward(cpu_ctx, din.tensor({N, I}), dweight.tensor({O, I}), dbias.tensor({O}),
                  host_tensor(w, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}));
  expect_gradient(loss, in, din, "in");
  expect_gradient(loss, weight, dweight, "weight");
  expect_gradient(loss, bias, dbias, "bias");
}

TEST(Matmul, SmallIntegersAreExact) {
  std::vector<float> in{1, 2, 3, 4, 5, 6};                              // (2, 3)
  std::vector<float> weight{1, 0, -1, 2, 1, 0, 0, 0, 1, -1, -1, -1};    // (4, 3)
  std::vector<float> bias{10, 20, 30, 40}, out(8);
  matmul_forward(cpu_ctx, host_tensor(out, {2, 4}), host_tensor(in, {2, 3}), host_tensor(weight, {4, 3}), host_tensor(bias, {4}));
  EXPECT_EQ(out, (std::vector<float>{8, 24, 33, 34, 8, 33, 36, 25}));
  matmul_forward(cpu_ctx, host_tensor(out, {2, 4}), host_tensor(in, {2, 3}), host_tensor(weight, {4, 3}), Tensor{});
  EXPECT_EQ(out, (std::vector<float>{-2, 4, 3, -6, -2, 13, 6, -15}));

  // dout = ones: din rows are the column sums of weight, dweight rows the column sums of
  // in, dbias the row count; each added onto the 1 already there.
  std::vector<float> dout(8, 1), din(6, 1), dweight(12, 1), dbias(4, 1);
  matmul_backward(cpu_ctx, host_tensor(din, {2, 3}), host_tensor(dweight, {4, 3}), host_tensor(dbias, {4}),
                  host_tensor(dout, {2, 4}), host_tensor(in, {2, 3}), host_tensor(weight, {4, 3}));
  EXPECT_EQ(din, (std::vector<float>{3, 1, 0, 3, 1, 0}));
  EXPECT_EQ(dweight, (std::vector<float>{6, 8, 10, 6, 8, 10, 6, 8, 10, 6, 8, 10}));
  EXPECT_EQ(dbias, (std::vector<float>{3, 3, 3, 3}));
}

TEST(Matmul, EmptyInnerDimensionGivesTheBias) {
  std::vector<float> in, weight, bias{1, 2, 3}, out(6, -7);
  matmul_forward(cpu_ctx, host_tensor(out, {2, 3}), host_tensor(in, {2, 0}), host_tensor(weight, {3, 0}), host_tensor(bias, {3}));
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST(Matmul, FloatMatchesDouble) {
  expect_float_matches_double([]<typename T>() {
    const int64_t N = 33, I = 771, O = 59;
    auto in = random_vector<T>(N * I, 40), weight = random_vector<T>(O * I, 41);
    auto bias = random_vector<T>(O, 42), dout = random_vector<T>(N * O, 43);
    std::vector<T> out(N * O), din(N * I), dweight(O * I), dbias(O);
    matmul_forward(cpu_ctx, host_tensor(out, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}), host_tensor(bias, {O}));
    matmul_backward(cpu_ctx, host_tensor(din, {N, I}), host_tensor(dweight, {O, I}), host_tensor(dbias, {O}),
                    host_tensor(dout, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}));
    std::vector<double> all;
    for (const auto* v : {&out, &din, &dweight, &dbias}) append(all, *v);
    return all;
  });
}

// ---- GELU, residual, add ---------------------------------------------------------

TEST(Gelu, GradientMatchesFiniteDifferences) {
  const int64_t n = 11;
  auto in = random_vector<double>(n, 50, -3, 3), w = random_vector<double>(n, 51);
  std::vector<double> out(n);
  auto loss = [&] { gelu_forward(cpu_ctx, host_tensor(out, {n}), host_tensor(in, {n})); return dot(w, out); };
  Grad din(n, 52);
  gelu_backward(cpu_ctx, din.tensor({n}), host_tensor(w, {n}), host_tensor(in, {n}));
  expect_gradient(loss, in, din, "in");
}

TEST(Gelu, HandComputedValuesAndExtremes) {
  std::vector<double> in{1.0, -1.0, 0.0, 150.0, -150.0}, out(5);
  gelu_forward(cpu_ctx, host_tensor(out, {5}), host_tensor(in, {5}));
  EXPECT_DOUBLE_EQ(out[0], 0.8413447460685429);
  EXPECT_DOUBLE_EQ(out[1], -0.15865525393145707);
  EXPECT_EQ(out[2], 0.0);
  EXPECT_EQ(out[3], 150.0);
  EXPECT_EQ(out[4], 0.0);
  // gelu'(0) = 1/2; far out the derivative is the step function, with no NaN from exp.
  std::vector<double> dout(5, 1.0), din(5, 0.0);
  gelu_backward(cpu_ctx, host_tensor(din, {5}), host_tensor(dout, {5}), host_tensor(in, {5}));
  EXPECT_DOUBLE_EQ(din[2], 0.5);
  EXPECT_EQ(din[3], 1.0);
  EXPECT_EQ(din[4], 0.0);
}

TEST(Gelu, InPlaceAndFloatMatchDouble) {
  expect_float_matches_double([]<typename T>() {
    const int64_t n = 1001;
    auto x = random_vector<T>(n, 53, -6, 6), dout = random_vector<T>(n, 54), din = std::vector<T>(n);
    auto in = x;
    gelu_forward(cpu_ctx, host_tensor(x, {n}), host_tensor(x, {n}));  // out aliases in
    gelu_backward(cpu_ctx, host_tensor(din, {n}), host_tensor(dout, {n}), host_tensor(in, {n}));
    std::vector<double> all;
    append(all, x);
    append(all, din);
    return all;
  });
}

TEST(Residual, AddsAndAccumulates) {
  std::vector<float> a{1, 2, 3}, b{10, 20, 30}, out(3);
  residual_forward(cpu_ctx, host_tensor(out, {3}), host_tensor(a, {3}), host_tensor(b, {3}));
  EXPECT_EQ(out, (std::vector<float>{11, 22, 33}));
  add_inplace(cpu_ctx, host_tensor(out, {3}), host_tensor(a, {3}));
  EXPECT_EQ(out, (std::vector<float>{12, 24, 36}));
}

// ---- dropout ---------------------------------------------------------------------

RngKey dropout_key(uint32_t step = 7, uint32_t substream = 3) {
  return RngKey{42, step, 0, RngStream::HIDDEN_DROPOUT, substream};
}

std::vector<float> run_dropout(const std::vector<float>& in, float p, const RngKey& key) {
  std::vector<float> x = in, out(in.size());
  const int64_t n = static_cast<int64_t>(in.size());
  dropout_forward(cpu_ctx, host_tensor(out, {n}), host_tensor(x, {n}), p, key);
  return out;
}

int64_t count_mask_differences(const std::vector<float>& a, const std::vector<float>& b) {
  int64_t d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += (a[i] == 0) != (b[i] == 0);
  return d;
}

TEST(Dropout, FollowsThePhiloxContract) {
  // keep(i) = philox_uniform(key, i) >= p, kept values scaled by 1 / (1 - p), as ops.h says.
  const float p = 0.25f;
  const RngKey key = dropout_key();
  // Non-zero; odd length over several threads' blocks of 4096 and uniform chunks of 1024.
  const int64_t n = 3 * 4096 + 1001;
  const auto in = random_vector<float>(n, 60, 0.5, 1.5);
  const auto out = run_dropout(in, p, key);
  int64_t wrong = 0, kept = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool keep = philox_uniform(key, i) >= p;
    kept += keep;
    const float expected = keep ? in[i] / (1 - p) : 0.0f;
    wrong += std::abs(out[i] - expected) > 1e-6f * std::abs(expected);
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, n);
}

TEST(Dropout, SameKeySameMaskOtherKeysDiffer) {
  const auto in = random_vector<float>(4096, 61, 0.5, 1.5);
  const auto out = run_dropout(in, 0.5f, dropout_key());
  EXPECT_EQ(out, run_dropout(in, 0.5f, dropout_key()));
  // With p = 1/2 independent masks differ in half the places; demand at least a quarter.
  EXPECT_GT(count_mask_differences(out, run_dropout(in, 0.5f, dropout_key(8, 3))), 1024);
  EXPECT_GT(count_mask_differences(out, run_dropout(in, 0.5f, dropout_key(7, 4))), 1024);
}

TEST(Dropout, KeptFractionWithinBinomialBound) {
  // kept ~ Binomial(n, 1 - p): |kept - n(1 - p)| < 6 sigma fails with probability < 2e-9.
  const int64_t n = 200000;
  for (float p : {0.1f, 0.5f}) {
    const auto out = run_dropout(std::vector<float>(n, 1.0f), p, dropout_key());
    int64_t kept = 0;
    for (float v : out) kept += v != 0;
    const double sigma = std::sqrt(n * p * (1.0 - p));
    EXPECT_LT(std::abs(kept - n * (1.0 - p)), 6 * sigma) << "p = " << p;
  }
}

TEST(Dropout, ZeroProbabilityCopies) {
  const auto in = random_vector<float>(37, 62);
  EXPECT_EQ(run_dropout(in, 0.0f, dropout_key()), in);
  std::vector<float> dout = in, din(37, 1.0f);
  dropout_backward(cpu_ctx, host_tensor(din, {37}), host_tensor(dout, {37}), 0.0f, dropout_key());
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(din[i], 1.0f + in[i]);
}

TEST(Dropout, InPlaceMatchesOutOfPlace) {
  auto x = random_vector<float>(999, 63);
  const auto expected = run_dropout(x, 0.3f, dropout_key());
  dropout_forward(cpu_ctx, host_tensor(x, {999}), host_tensor(x, {999}), 0.3f, dropout_key());
  EXPECT_EQ(x, expected);
}

TEST(Dropout, BackwardRecomputesTheForwardMask) {
  const int64_t n = 3 * 4096 + 1001;  // over several threads' blocks and uniform chunks
  const float p = 0.2f;
  const auto out = run_dropout(std::vector<float>(n, 1.0f), p, dropout_key());
  std::vector<float> dout(n, 1.0f), din(n, 0.0f);
  dropout_backward(cpu_ctx, host_tensor(din, {n}), host_tensor(dout, {n}), p, dropout_key());
  EXPECT_EQ(din, out);  // both are keep(i) / (1 - p)
}

TEST(Dropout, GradientMatchesFiniteDifferences) {
  const int64_t n = 50;
  auto in = random_vector<double>(n, 64), w = random_vector<double>(n, 65);
  std::vector<double> out(n);
  auto loss = [&] {
    dropout_forward(cpu_ctx, host_tensor(out, {n}), host_tensor(in, {n}), 0.3f, dropout_key());
    return dot(w, out);
  };
  Grad din(n, 66);
  dropout_backward(cpu_ctx, din.tensor({n}), host_tensor(w, {n}), 0.3f, dropout_key());
  expect_gradient(loss, in, din, "in");
}

TEST(Dropout, FloatMatchesDouble) {
  expect_float_matches_double([]<typename T>() {
    auto in = random_vector<T>(513, 67), out = std::vector<T>(513);
    dropout_forward(cpu_ctx, host_tensor(out, {513}), host_tensor(in, {513}), 0.1f, dropout_key());
    std::vector<double> all;
    append(all, out);
    return all;
  });
}

// ---- rows ------------------------------------------------------------------------

TEST(Rows, GatherGradientIsScatterAdd) {
  const int64_t N = 6, C = 5, P = 8;
  std::vector<int32_t> index{5, 0, 2, 2, 5, 1, 5, 3};  // repeats, and row 4 never gathered
  auto in = random_vector<double>(N * C, 70), w = random_vector<double>(P * C, 71);
  std::vector<double> out(P * C);
  auto loss = [&] {
    gather_rows(cpu_ctx, host_tensor(out, {P, C}), host_tensor(in, {N, C}), host_tensor(index));
    return dot(w, out);
  };
  Grad din(in.size(), 72);
  scatter_add_rows(cpu_ctx, din.tensor({N, C}), host_tensor(w, {P, C}), host_tensor(index));
  expect_gradient(loss, in, din, "in");
}

TEST(Rows, HandComputedGatherAndScatter) {
  std::vector<int32_t> index{2, 0, 2, 2};
  std::vector<float> table{1, 2, 3, 4, 5, 6}, gathered(8);
  gather_rows(cpu_ctx, host_tensor(gathered, {4, 2}), host_tensor(table, {3, 2}), host_tensor(index));
  EXPECT_EQ(gathered, (std::vector<float>{5, 6, 1, 2, 5, 6, 5, 6}));
  std::vector<float> src{1, 2, 3, 4, 5, 6, 7, 8}, dst(6, 0);
  scatter_add_rows(cpu_ctx, host_tensor(dst, {3, 2}), host_tensor(src, {4, 2}), host_tensor(index));
  EXPECT_EQ(dst, (std::vector<float>{3, 4, 0, 0, 13, 16}));
}

TEST(Rows, ScatterAddIsTheSameForAnyThreadCount) {
  const int64_t N = 50, C = 300, P = 4000;
  std::vector<int32_t> index(P);
  for (int64_t p = 0; p < P; ++p) index[p] = static_cast<int32_t>((p * 7919) % N);
  auto src = random_vector<float>(P * C, 73);
  auto scatter_with_threads = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> dst(N * C, 0.0f);
    scatter_add_rows(cpu_ctx, host_tensor(dst, {N, C}), host_tensor(src, {P, C}), host_tensor(index));
    set_num_threads(0);
    return dst;
  };
  EXPECT_EQ(scatter_with_threads(1), scatter_with_threads(3));
}

// ---- argument validation ---------------------------------------------------------

struct EmbeddingArgs {
  std::vector<int32_t> tokens{0, 1, 2}, positions{0, 1, 2};
  std::vector<float> out = std::vector<float>(12), wte = std::vector<float>(12),
                     wpe = std::vector<float>(12);
  void run() {
    embedding_forward(cpu_ctx, host_tensor(out, {3, 4}), host_tensor(tokens), host_tensor(positions), Tensor{},
                      host_tensor(wte, {3, 4}), host_tensor(wpe, {3, 4}), Tensor{});
  }
};

TEST(DenseOpValidation, EmbeddingIdsOutOfRange) {
  EmbeddingArgs args;
  EXPECT_NO_THROW(args.run());
  args.tokens[1] = 3;
  expect_error([&] { args.run(); }, "tokens[1] = 3 is outside [0, 3)");
  args.tokens[1] = -1;
  expect_error([&] { args.run(); }, "tokens[1] = -1");
  args.tokens[1] = 0;
  args.positions[2] = 7;
  expect_error([&] { args.run(); }, "positions[2] = 7");
}

TEST(DenseOpValidation, WrongDtypes) {
  EmbeddingArgs args;
  std::vector<float> float_ids{0, 1, 2};
  expect_error([&] {
    embedding_forward(cpu_ctx, host_tensor(args.out, {3, 4}), host_tensor(float_ids, {3}), host_tensor(args.positions),
                      Tensor{}, host_tensor(args.wte, {3, 4}), host_tensor(args.wpe, {3, 4}), Tensor{});
  }, "tokens has dtype F32, expected I32");
  std::vector<double> wte64(12);
  expect_error([&] {
    embedding_forward(cpu_ctx, host_tensor(args.out, {3, 4}), host_tensor(args.tokens), host_tensor(args.positions),
                      Tensor{}, host_tensor(wte64, {3, 4}), host_tensor(args.wpe, {3, 4}), Tensor{});
  }, "wte has dtype F64, expected F32");
  // BF16/F16 run emulated (tests/test_ops_16bit.cpp); integers are no compute dtype.
  std::vector<int64_t> ints(4);
  expect_error([&] { gelu_forward(cpu_ctx, host_tensor(ints), host_tensor(ints)); },
               {"gelu_forward", "F32 or F64, got I64"});
}

TEST(DenseOpValidation, WrongShapes) {
  std::vector<float> x(12), out(12), mean(3), rstd(3), weight(5), bias(4);
  expect_error([&] {
    layernorm_forward(cpu_ctx, host_tensor(out, {3, 4}), host_tensor(mean, {3}), host_tensor(rstd, {3}), host_tensor(x, {3, 4}),
                      host_tensor(weight, {5}), host_tensor(bias, {4}), 1e-5);
  }, "weight has shape [5], expected [4]");
  std::vector<float> w(15);
  expect_error([&] { matmul_forward(cpu_ctx, host_tensor(out, {3, 4}), host_tensor(x, {3, 4}), host_tensor(w, {3, 5}), Tensor{}); },
               "weight has shape [3, 5], expected [3, 4]");
  expect_error([&] { matmul_forward(cpu_ctx, host_tensor(out, {2, 6}), host_tensor(x, {3, 4}), host_tensor(w, {3, 4}), Tensor{}); },
               "out has shape [2, 6], expected [3, 3]");
  expect_error([&] { residual_forward(cpu_ctx, host_tensor(out, {12}), host_tensor(x, {3, 4}), host_tensor(x, {3, 4})); },
               "out has shape [12]");
}

TEST(DenseOpValidation, RowIndexOutOfRangeAndBadDropoutProbability) {
  std::vector<float> in(6), out(4);
  std::vector<int32_t> index{0, 3};
  expect_error([&] { gather_rows(cpu_ctx, host_tensor(out, {2, 2}), host_tensor(in, {3, 2}), host_tensor(index)); },
               "index[1] = 3 is outside [0, 3)");
  expect_error([&] { scatter_add_rows(cpu_ctx, host_tensor(in, {3, 2}), host_tensor(out, {2, 2}), host_tensor(index)); },
               "index[1] = 3");
  expect_error([&] { dropout_forward(cpu_ctx, host_tensor(in, {6}), host_tensor(in, {6}), 1.0f, dropout_key()); },
               "dropout probability");
}

TEST(DenseOpValidation, CudaDeviceIsReportedNotCrashed) {
  Ctx cuda{Device::CUDA, nullptr};
  std::vector<float> x(4);
  expect_error([&] { gelu_forward(cuda, host_tensor(x, {4}), host_tensor(x, {4})); }, "wrong device");
  // A GPU call that cannot run says why: no CudaContext given, or no CUDA in this build.
  Tensor on_gpu{x.data(), {4}, DType::F32, Device::CUDA};
  expect_error([&] { gelu_forward(cuda, on_gpu, on_gpu); },
               cuda_compiled() ? "needs its CudaContext" : "built without CUDA");
}

}  // namespace
}  // namespace masklm
