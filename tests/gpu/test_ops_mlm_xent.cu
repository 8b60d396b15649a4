// GPU sparse MLM cross-entropy against the CPU: vocabularies 30522 and 50265, hidden 59 and
// 771, one to many chunks (including a last chunk of a different width), with and without
// the bias; argmax (correct) must agree exactly (in fp32 also on rows made to predict their
// label). In BF16/F16 (16-bit h, emb, bias, dh and
// logits chunk; fp32 losses, lse, demb, dbias) against the CPU in F64 on the same inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "gpu/op_harness.cuh"
#include "gradcheck.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_bitwise_equal;
using gpu_testing::expect_close;
using gpu_testing::for_each_16bit;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
using gpu_testing::to_storage;
using gpu_testing::widen;
using testing::random_vector;

struct XentCase {
  int64_t P, C, V, chunk;
  bool bias;
};
class MlmXentGpu : public ::testing::TestWithParam<XentCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, MlmXentGpu,
                         ::testing::Values(XentCase{1, 59, 30522, 4096, true}, XentCase{37, 771, 30522, 30522, false},
                                           XentCase{130, 59, 50265, 4096, true}, XentCase{37, 771, 50265, 1000, true},
                                           XentCase{5, 64, 50265, 100000, true}));

// Random labels, the first one the last entry of the last chunk.
std::vector<int32_t> xent_labels(int64_t P, int64_t V) {
  std::mt19937 rng(5);
  std::vector<int32_t> labels(static_cast<size_t>(P));
  for (auto& l : labels) l = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  labels[0] = static_cast<int32_t>(V - 1);
  return labels;
}

// Makes every fourth row predict its label: h = 50 emb[label] puts the label's logit far
// above every other (about 50 C / 300 against 50 sqrt(C) / 300 · 4.5 for the largest of the
// rest, emb uniform in [-0.1, 0.1]), beyond any rounding and the bias in [-1, 1]. So the
// argmax check sees ones, not only zeros.
void plant_correct_rows(std::vector<float>& h, const std::vector<float>& emb,
                        const std::vector<int32_t>& labels, int64_t C) {
  for (size_t p = 0; p < labels.size(); p += 4)
    for (int64_t c = 0; c < C; ++c)
      h[p * C + c] = 50.0f * emb[static_cast<size_t>(labels[p] * C + c)];
}

int64_t count_correct(const std::vector<int32_t>& correct) {
  return std::count(correct.begin(), correct.end(), 1);
}

TEST_P(MlmXentGpu, ForwardAndBackwardMatchCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [P, C, V, chunk, with_bias] = GetParam();
  auto labels = xent_labels(P, V);
  auto h = random_vector<float>(P * C, 1), emb = random_vector<float>(V * C, 2, -0.1, 0.1);
  plant_correct_rows(h, emb, labels, C);
  auto bias = random_vector<float>(V, 3);
  // demb and dbias start at zero: their gradients (~ 1 / (P V)) would vanish next to noise
  // of order 1 in the NMSE; accumulation is checked below by running the backward twice.
  const auto dh0 = random_vector<float>(P * C, 4);
  const std::vector<float> demb0(static_cast<size_t>(V * C), 0.0f), dbias0(static_cast<size_t>(V), 0.0f);
  const double loss_scale = 1.0 / static_cast<double>(P);
  std::vector<float> losses(static_cast<size_t>(P)), lse(static_cast<size_t>(P));
  std::vector<int32_t> correct(static_cast<size_t>(P));
  std::vector<float> dh = dh0, demb = demb0, dbias = dbias0;
  Ctx cpu = cpu_ctx();
  const Tensor cpu_bias = with_bias ? host_tensor(bias) : Tensor{};
  mlm_xent_forward(cpu, host_tensor(losses), host_tensor(lse), host_tensor(correct), host_tensor(h, {P, C}),
                   host_tensor(emb, {V, C}), cpu_bias, host_tensor(labels), chunk);
  mlm_xent_backward(cpu, host_tensor(dh, {P, C}), host_tensor(demb, {V, C}), with_bias ? host_tensor(dbias) : Tensor{},
                    host_tensor(h, {P, C}), host_tensor(emb, {V, C}), cpu_bias, host_tensor(labels), host_tensor(lse),
                    loss_scale, chunk);

  GpuOps g;
  const Tensor d_h = g.up(h, {P, C}), d_emb = g.up(emb, {V, C}), d_labels = g.up(labels);
  const Tensor d_bias = with_bias ? g.up(bias) : Tensor{};
  const Tensor d_losses = g.output({P}), d_lse = g.output({P});
  const Tensor d_correct = g.up(std::vector<int32_t>(static_cast<size_t>(P), -7));
  const Tensor d_dh = g.up(dh0, {P, C}), d_demb = g.up(demb0, {V, C}), d_dbias = g.up(dbias0);
  mlm_xent_forward(g.ctx, d_losses, d_lse, d_correct, d_h, d_emb, d_bias, d_labels, chunk);
  // The backward gets the CPU's lse, so it is compared on identical inputs.
  mlm_xent_backward(g.ctx, d_dh, d_demb, with_bias ? d_dbias : Tensor{}, d_h, d_emb, d_bias, d_labels, g.up(lse),
                    loss_scale, chunk);
  const double bound = nmse_bound(DType::F32);
  expect_close(g.down<float>(d_losses), losses, bound, "losses");
  expect_close(g.down<float>(d_lse), lse, bound, "lse");
  EXPECT_GE(count_correct(correct), (P + 3) / 4);  // the planted rows, on the CPU
  expect_bitwise_equal(g.down<int32_t>(d_correct), correct, "correct");
  expect_close(g.down<float>(d_dh), dh, bound, "dh");
  const auto gpu_demb = g.down<float>(d_demb), gpu_dbias = g.down<float>(d_dbias);
  expect_close(gpu_demb, demb, bound, "demb");
  if (with_bias) expect_close(gpu_dbias, dbias, bound, "dbias");

  // A second identical backward adds the same bits again (deterministic), and g + g is
  // exact: the gradients must now be exactly twice the first ones.
  mlm_xent_backward(g.ctx, Tensor{}, d_demb, with_bias ? d_dbias : Tensor{}, d_h, d_emb, d_bias, d_labels, g.up(lse),
                    loss_scale, chunk);
  auto twice = [](std::vector<float> v) {
    for (float& x : v) x *= 2.0f;
    return v;
  };
  expect_bitwise_equal(g.down<float>(d_demb), twice(gpu_demb), "demb after two backwards");
  expect_bitwise_equal(g.down<float>(d_dbias), twice(gpu_dbias), "dbias after two backwards");
  g.expect_guards_intact();
}

// Non-finite inputs, against the CPU: a row of h that is NaN makes that row's loss and lse
// NaN and nothing else; a NaN in the bias (the first logit of the second chunk, every row)
// makes every loss NaN, while the argmax stays that of the finite logits on both backends
// (rows planted to predict labels in that chunk are still correct).
TEST(MlmXentGpuNonFinite, NanInputsGiveNanWhereTheCpuDoesAndLeaveTheArgmax) {
  MASKLM_SKIP_WITHOUT_GPU();
  constexpr int64_t P = 9, C = 59, V = 5000, chunk = 1000;
  std::vector<int32_t> labels(P);
  for (int64_t p = 0; p < P; ++p) labels[static_cast<size_t>(p)] = static_cast<int32_t>(1001 + 37 * p);
  auto emb = random_vector<float>(V * C, 2, -0.1, 0.1);
  auto h = random_vector<float>(P * C, 1);
  plant_correct_rows(h, emb, labels, C);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const bool nan_in_bias : {false, true}) {
    SCOPED_TRACE(nan_in_bias ? "NaN in the bias" : "a NaN row of h");
    auto rows = h, bias = random_vector<float>(V, 3);
    if (nan_in_bias)
      bias[chunk] = nan;
    else
      std::fill_n(rows.begin() + 2 * C, C, nan);
    std::vector<float> losses(P), lse(P);
    std::vector<int32_t> correct(P);
    Ctx cpu = cpu_ctx();
    mlm_xent_forward(cpu, host_tensor(losses), host_tensor(lse), host_tensor(correct), host_tensor(rows, {P, C}),
                     host_tensor(emb, {V, C}), host_tensor(bias), host_tensor(labels), chunk);
    GpuOps g;
    const Tensor d_losses = g.output({P}), d_lse = g.output({P});
    const Tensor d_correct = g.up(std::vector<int32_t>(static_cast<size_t>(P), -7));
    mlm_xent_forward(g.ctx, d_losses, d_lse, d_correct, g.up(rows, {P, C}), g.up(emb, {V, C}), g.up(bias),
                     g.up(labels), chunk);
    const auto gpu_losses = g.down<float>(d_losses), gpu_lse = g.down<float>(d_lse);
    for (int64_t p = 0; p < P; ++p) {
      const bool want_nan = nan_in_bias || p == 2;
      EXPECT_EQ(std::isnan(losses[p]), want_nan) << "CPU loss of row " << p;
      EXPECT_EQ(std::isnan(gpu_losses[p]), want_nan) << "GPU loss of row " << p;
      EXPECT_EQ(std::isnan(gpu_lse[p]), want_nan) << "GPU lse of row " << p;
    }
    if (!nan_in_bias) {
      expect_close(gpu_losses, losses, nmse_bound(DType::F32), "losses");
      expect_close(gpu_lse, lse, nmse_bound(DType::F32), "lse");
    }
    EXPECT_GE(count_correct(correct), (P + 3) / 4);  // the planted rows (not row 2)
    expect_bitwise_equal(g.down<int32_t>(d_correct), correct, "correct");
    g.expect_guards_intact();
  }
}

// Every output, fp32 ones included, inherits the rounding of the 16-bit logits chunk and
// dlogits, so all are held to the 16-bit bound: a logit error of u |l| moves softmax by
// the same relative amount, NMSE ~ u^2 E[l^2] / 3 with E[l^2] ~ 1 here. dh starts at zero
// so the gradient is not hidden below the rounding of a start value.
TEST_P(MlmXentGpu, In16BitMatchesCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [P, C, V, chunk, with_bias] = GetParam();
  auto labels = xent_labels(P, V);
  for_each_16bit([&]<typename T16>() {
    const auto h = to_storage<T16>(random_vector<float>(P * C, 1));
    const auto emb = to_storage<T16>(random_vector<float>(V * C, 2, -0.1, 0.1));
    const auto bias = to_storage<T16>(random_vector<float>(V, 3));
    auto h64 = widen(h), emb64 = widen(emb), bias64 = widen(bias);
    const double loss_scale = 1.0 / static_cast<double>(P);
    std::vector<double> losses64(static_cast<size_t>(P)), lse64(static_cast<size_t>(P));
    std::vector<double> dh64(static_cast<size_t>(P * C)), demb64(static_cast<size_t>(V * C)), dbias64(static_cast<size_t>(V));
    std::vector<int32_t> correct(static_cast<size_t>(P));
    Ctx cpu = cpu_ctx();
    const Tensor cpu_bias = with_bias ? host_tensor(bias64) : Tensor{};
    mlm_xent_forward(cpu, host_tensor(losses64), host_tensor(lse64), host_tensor(correct), host_tensor(h64, {P, C}),
                     host_tensor(emb64, {V, C}), cpu_bias, host_tensor(labels), chunk);
    // Both backwards get the CPU's lse rounded to the GPU's fp32.
    const std::vector<float> lse(lse64.begin(), lse64.end());
    auto lse_f = widen(lse);
    mlm_xent_backward(cpu, host_tensor(dh64, {P, C}), host_tensor(demb64, {V, C}),
                      with_bias ? host_tensor(dbias64) : Tensor{}, host_tensor(h64, {P, C}), host_tensor(emb64, {V, C}),
                      cpu_bias, host_tensor(labels), host_tensor(lse_f), loss_scale, chunk);

    GpuOps g;
    const Tensor d_h = g.up(h, {P, C}), d_emb = g.up(emb, {V, C}), d_labels = g.up(labels);
    const Tensor d_bias = with_bias ? g.up(bias) : Tensor{};
    const Tensor d_losses = g.output({P}), d_lse = g.output({P});
    const Tensor d_correct = g.up(std::vector<int32_t>(static_cast<size_t>(P), -7));
    const Tensor d_dh = g.up(std::vector<T16>(static_cast<size_t>(P * C), T16(0.0f)), {P, C});
    const Tensor d_demb = g.up(std::vector<float>(static_cast<size_t>(V * C), 0.0f), {V, C});
    const Tensor d_dbias = g.up(std::vector<float>(static_cast<size_t>(V), 0.0f));
    mlm_xent_forward(g.ctx, d_losses, d_lse, d_correct, d_h, d_emb, d_bias, d_labels, chunk);
    mlm_xent_backward(g.ctx, d_dh, d_demb, with_bias ? d_dbias : Tensor{}, d_h, d_emb, d_bias, d_labels, g.up(lse),
                      loss_scale, chunk);
    const double bound = nmse_bound(dtype_of<T16>());
    expect_close(widen(g.down<float>(d_losses)), losses64, bound, "losses");
    expect_close(widen(g.down<float>(d_lse)), lse64, bound, "lse");
    // Random labels are nowhere near a tie for the argmax, so rounding cannot flip it; the
    // argmax itself (the same kernel template) is checked on planted rows in fp32 above:
    // their logits, ten times the others', round ten times as coarsely in 16 bits and
    // would dominate dh's error here.
    expect_bitwise_equal(g.down<int32_t>(d_correct), correct, "correct");
    expect_close(widen(g.down<T16>(d_dh)), dh64, bound, "dh");
    expect_close(widen(g.down<float>(d_demb)), demb64, bound, "demb");
    if (with_bias) expect_close(widen(g.down<float>(d_dbias)), dbias64, bound, "dbias");
    g.expect_guards_intact();
  });
}

}  // namespace
}  // namespace masklm
