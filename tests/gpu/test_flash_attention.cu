// The fused BF16/F16 attention (kernels/cuda/flash_attention.cu, reached through ops.h's
// attention_forward/backward with 16-bit tensors), and cuDNN's (train.attention cudnn,
// kernels/cuda/cudnn_attention.cpp) without dropout, against the CPU op in F64 on the same
// 16-bit inputs, by flash-attention's rule: our largest error is at most twice that of the
// naive attention in the same 16-bit type (naive_attention.cuh), plus flash-attention 3's
// small absolute allowance for the gradients (fa3_atol). Head sizes 32, 64 and
// 128; lengths 0, 1, 7, 127, 129 and 513 (tile edges at 64 and 32); many short sequences;
// dropout (same Philox mask as the CPU, or the comparison fails); sharp softmaxes. Also:
// outputs fully written (NaN-filled), guard bands, += into dqkv, bitwise reproducibility,
// bad cu_seqlens and unsupported head sizes reported. cuDNN draws its own dropout mask: its
// dropout is checked for reproducibility and for a backward that uses the forward's mask.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "expect_error.h"
#include "gpu/naive_attention.cuh"
#include "gpu/op_harness.cuh"
#include "gradcheck.h"
#include "kernels/cuda/precision.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_bitwise_equal;
using gpu_testing::GpuOps;
using gpu_testing::naive_attention;
using gpu_testing::NaiveAttention;
using gpu_testing::round16;
using testing::random_vector;

struct FlashCase {
  std::vector<int32_t> lengths;
  int64_t NH, HS;
  float dropout_p;
  float sharpness;  // inputs uniform in [-sharpness, sharpness]: large values saturate the softmax
  DType dtype;
  AttentionKernel kernel = AttentionKernel::FUSED;  // named, so no fallback stands in for it
};

std::string case_name(const ::testing::TestParamInfo<FlashCase>& info) {
  const FlashCase& c = info.param;
  const char* kernel = c.kernel == AttentionKernel::CUDNN ? "cudnn_" : "";
  return kernel + std::string(dtype_name(c.dtype)) + "_hs" + std::to_string(c.HS) + "_nh" +
         std::to_string(c.NH) + "_b" + std::to_string(c.lengths.size()) + "_drop" +
         std::to_string(static_cast<int>(c.dropout_p * 100)) + "_sharp" +
         std::to_string(static_cast<int>(c.sharpness)) + "_" + std::to_string(info.index);
}

std::vector<int32_t> offsets(const std::vector<int32_t>& lengths) {
  std::vector<int32_t> cu{0};
  for (int32_t len : lengths) cu.push_back(cu.back() + len);
  return cu;
}

// 60 sequences of 1 to 13 tokens: mostly-idle tiles, many sequences per launch.
std::vector<int32_t> many_short() {
  std::vector<int32_t> lengths;
  for (int32_t b = 0; b < 60; ++b) lengths.push_back(1 + b * 7 % 13);
  return lengths;
}

const RngKey kKey{
    .seed = 91, .step = 4, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT, .substream = 2};

template <typename T16> std::vector<float> rounded(std::vector<float> v) {
  for (float& x : v) x = round16<T16>(x);
  return v;
}
template <typename T16> std::vector<T16> to16(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}
template <typename T16> std::vector<float> to_float(const std::vector<T16>& v) {
  std::vector<float> f(v.size());
  std::transform(v.begin(), v.end(), f.begin(), [](T16 x) { return static_cast<float>(x); });
  return f;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& ref) {
  double err = 0;
  for (size_t i = 0; i < ref.size(); ++i) err = std::max(err, std::abs(a[i] - ref[i]));
  return err;
}

// flash-attention's rule: max |ours - ref| <= 2 max |naive - ref| + atol. The naive error
// must stay small, so a broken yardstick cannot loosen the test.
void expect_within_twice_naive(const std::vector<float>& ours, const std::vector<float>& naive,
                               const std::vector<double>& ref, double atol,
                               const std::string& what) {
  ASSERT_EQ(ours.size(), ref.size()) << what;
  ASSERT_EQ(naive.size(), ref.size()) << what;
  const int64_t nonfinite =
      std::count_if(ours.begin(), ours.end(), [](float x) { return !std::isfinite(x); });
  EXPECT_EQ(nonfinite, 0) << what << ": NaN/Inf in the kernel's result";
  double ref_max = 0;
  for (double x : ref) ref_max = std::max(ref_max, std::abs(x));
  EXPECT_GT(ref_max, 0.0) << what
                          << ": the reference is all zeros, so the comparison proves nothing";
  const double ours_err = max_abs_diff(ours, ref), naive_err = max_abs_diff(naive, ref);
  std::printf(
      "  %-4s max |ref| %.3e  kernel error %.3e  naive error %.3e  atol %.1e  ratio %.2f\n",
      what.c_str(), ref_max, ours_err, naive_err, atol, ours_err / std::max(naive_err, 1e-30));
  EXPECT_LE(naive_err, 0.25 * ref_max) << what << ": the naive yardstick itself is far off";
  EXPECT_LE(ours_err, 2 * naive_err + atol) << what << ": above twice the naive 16-bit error";
}

// The gradients' atol of flash-attention 3's tests (hopper/test_flash_attn.py):
// 2 max |(x + 0.3) - 0.3 - x| in the 16-bit type over the reference x. It absorbs the one
// error the naive attention does not make: D = dO . O from the 16-bit O, which matters
// where dS = P (dP - D) cancels (sequences of a few tokens), and is ~1e-3 (bf16) or ~1e-4
// (fp16) for gradients of size 1.
template <typename T16> double fa3_atol(const std::vector<double>& ref) {
  double atol = 0;
  for (double r : ref) {
    const float x = round16<T16>(static_cast<float>(r));
    atol = std::max(atol, 2.0 * std::abs(round16<T16>(round16<T16>(x + 0.3f) - 0.3f) - x));
  }
  return atol;
}

// Columns [section * C, section * C + C) of an (N, 3C) matrix: q, k or v.
template <typename T>
std::vector<T> section(const std::vector<T>& m, int64_t N, int64_t C, int section) {
  std::vector<T> part;
  for (int64_t i = 0; i < N; ++i) {
    const auto row = m.begin() + i * 3 * C + section * C;
    part.insert(part.end(), row, row + C);
  }
  return part;
}

// The fused kernel's results for one case: out, lse, and dqkv from a zero gradient buffer.
template <typename T16> struct GpuRun {
  std::vector<T16> out;
  std::vector<float> lse;
  std::vector<T16> dqkv;
};

// Forward and backward through ops.h on g's GPU context with Ctx::attention `kernel` (the
// fused kernel unless named: not AUTO, whose fallback would take over silently if the fused
// kernel stopped applying). Runs of one test share g, so cuDNN builds each graph once per
// test.
template <typename T16>
GpuRun<T16> run_on_gpu(GpuOps& g, const FlashCase& fc, const std::vector<float>& qkv,
                       const std::vector<float>& dout, const std::vector<float>& dqkv0,
                       AttentionKernel kernel = AttentionKernel::FUSED) {
  const auto cu = offsets(fc.lengths);
  const int64_t N = cu.back(), C = fc.NH * fc.HS, B = static_cast<int64_t>(fc.lengths.size());
  const int heads = static_cast<int>(fc.NH);
  g.ctx.attention = kernel;
  const Tensor d_qkv = g.up(to16<T16>(qkv), {N, 3 * C}), d_cu = g.up(cu, {B + 1});
  const Tensor d_out = g.output<T16>({N, C}), d_lse = g.output({fc.NH, N});
  const Tensor d_dqkv = g.up(to16<T16>(dqkv0), {N, 3 * C});
  attention_forward(g.ctx, d_out, d_lse, d_qkv, d_cu, heads, fc.dropout_p, kKey);
  attention_backward(g.ctx, d_dqkv, g.up(to16<T16>(dout), {N, C}), d_out, d_qkv, d_lse, d_cu, heads,
                     fc.dropout_p, kKey);
  GpuRun<T16> run{g.down<T16>(d_out), g.down<float>(d_lse), g.down<T16>(d_dqkv)};
  g.expect_guards_intact();
  return run;
}

template <typename T16> void check_against_fp64(const FlashCase& fc) {
  const auto cu = offsets(fc.lengths);
  const int64_t N = cu.back(), C = fc.NH * fc.HS;
  const int heads = static_cast<int>(fc.NH);
  const auto qkv = rounded<T16>(random_vector<float>(N * 3 * C, 1, -fc.sharpness, fc.sharpness));
  const auto dout = rounded<T16>(random_vector<float>(N * C, 2));

  // The fp64 reference: the CPU op on the same 16-bit values.
  std::vector<double> qkv64(qkv.begin(), qkv.end()), dout64(dout.begin(), dout.end());
  std::vector<double> out64(static_cast<size_t>(N * C)), lse64(static_cast<size_t>(fc.NH * N));
  std::vector<double> dqkv64(static_cast<size_t>(N * 3 * C));
  std::vector<int32_t> cu_host = cu;
  Ctx cpu = cpu_ctx();
  attention_forward(cpu, host_tensor(out64, {N, C}), host_tensor(lse64, {fc.NH, N}),
                    host_tensor(qkv64, {N, 3 * C}), host_tensor(cu_host), heads, fc.dropout_p,
                    kKey);
  attention_backward(cpu, host_tensor(dqkv64, {N, 3 * C}), host_tensor(dout64, {N, C}),
                     host_tensor(out64, {N, C}), host_tensor(qkv64, {N, 3 * C}),
                     host_tensor(lse64, {fc.NH, N}), host_tensor(cu_host), heads, fc.dropout_p,
                     kKey);
  const NaiveAttention naive = naive_attention<T16>(qkv, dout, cu, fc.NH, fc.dropout_p, kKey);

  GpuOps g;
  const GpuRun<T16> fused = run_on_gpu<T16>(
      g, fc, qkv, dout, std::vector<float>(static_cast<size_t>(N * 3 * C)), fc.kernel);
  // The forward is held to the plain rule (a floor only for errors that are all ~0).
  double out_max = 0;
  for (double x : out64) out_max = std::max(out_max, std::abs(x));
  expect_within_twice_naive(to_float(fused.out), naive.out, out64, 1e-5 * out_max, "out");
  const std::vector<float> dqkv = to_float(fused.dqkv);
  const char* names[] = {"dq", "dk", "dv"};
  for (int part = 0; part < 3; ++part) {
    const std::vector<double> ref = section(dqkv64, N, C, part);
    expect_within_twice_naive(section(dqkv, N, C, part), section(naive.dqkv, N, C, part), ref,
                              fa3_atol<T16>(ref), names[part]);
  }
  // lse comes from fp32 scores of exact 16-bit products: only fp32 rounding separates it
  // from the fp64 one.
  for (size_t k = 0; k < lse64.size(); ++k)
    ASSERT_NEAR(fused.lse[k], lse64[k], 1e-4 * std::max(1.0, std::abs(lse64[k]))) << "lse at " << k;

  // += semantics: into a non-zero dqkv a0 the result is round(a0 + g32), while the first run
  // gave g = round(g32); they differ by at most u |a0 + g32| + u |g32| <= 3u (|a0| + |g|) with
  // u the 16-bit unit roundoff. Writing g instead (=), or adding twice, is far outside.
  const auto dqkv0 = rounded<T16>(random_vector<float>(N * 3 * C, 3));
  const std::vector<float> accumulated =
      to_float(run_on_gpu<T16>(g, fc, qkv, dout, dqkv0, fc.kernel).dqkv);
  const double u = std::is_same_v<T16, __half> ? 0x1p-11 : 0x1p-8;
  int64_t off = 0;
  for (size_t k = 0; k < dqkv0.size(); ++k)
    off += std::abs(accumulated[k] - (dqkv0[k] + dqkv[k])) >
           3 * u * (std::abs(dqkv0[k]) + std::abs(dqkv[k])) + 1e-30;
  EXPECT_EQ(off, 0)
      << "dqkv elements where the backward did not add its gradient to what was there";
}

class FlashAttentionGpu : public ::testing::TestWithParam<FlashCase> {};


TEST_P(FlashAttentionGpu, WithinTwiceTheNaive16BitErrorOfFp64) {
  MASKLM_SKIP_WITHOUT_GPU();
  if (GetParam().kernel == AttentionKernel::CUDNN) MASKLM_SKIP_WITHOUT_CUDNN();
  if (GetParam().dtype == DType::BF16)
    check_against_fp64<__nv_bfloat16>(GetParam());
  else
    check_against_fp64<__half>(GetParam());
}

std::vector<FlashCase> flash_cases() {
  const std::vector<FlashCase> shapes = {
      {{1, 7, 127, 129}, 2, 32, 0.0f, 1.0f, DType::BF16},
      {{513}, 1, 64, 0.0f, 1.0f, DType::BF16},
      {{129, 1, 0, 7}, 2, 128, 0.0f, 1.0f, DType::BF16},
      {{127, 513}, 2, 64, 0.1f, 1.0f, DType::BF16},
      {many_short(), 3, 64, 0.1f, 1.0f, DType::BF16},
      {{7, 129}, 1, 128, 0.2f, 3.0f, DType::BF16},
      {{65, 63, 31}, 2, 32, 0.5f, 2.0f, DType::BF16},
  };
  std::vector<FlashCase> cases;
  for (DType dtype : {DType::BF16, DType::F16})
    for (FlashCase c : shapes) {
      c.dtype = dtype;
      cases.push_back(c);
      if (c.dropout_p == 0) {  // cuDNN's dropout mask is its own: compared without dropout
        c.kernel = AttentionKernel::CUDNN;
        cases.push_back(c);
      }
    }
  return cases;
}
INSTANTIATE_TEST_SUITE_P(Shapes, FlashAttentionGpu, ::testing::ValuesIn(flash_cases()), case_name);

TEST(FlashAttentionGpuReproducible, TwoRunsAreBitwiseEqual) {
  MASKLM_SKIP_WITHOUT_GPU();
  const FlashCase fc{{127, 1, 200, 64}, 2, 64, 0.1f, 1.0f, DType::BF16};
  const int64_t N = offsets(fc.lengths).back(), C = fc.NH * fc.HS;
  const auto qkv = rounded<__nv_bfloat16>(random_vector<float>(N * 3 * C, 4));
  const auto dout = rounded<__nv_bfloat16>(random_vector<float>(N * C, 5));
  const std::vector<float> zeros(static_cast<size_t>(N * 3 * C));
  GpuOps g;
  const auto first = run_on_gpu<__nv_bfloat16>(g, fc, qkv, dout, zeros);
  const auto second = run_on_gpu<__nv_bfloat16>(g, fc, qkv, dout, zeros);
  expect_bitwise_equal(first.out, second.out, "out");
  expect_bitwise_equal(first.lse, second.lse, "lse");
  expect_bitwise_equal(first.dqkv, second.dqkv, "dqkv");
}

// cuDNN's dropout: the same key gives the same bits, dropout changes the output, and the
// backward applies the forward's mask. With dO = O the last is an identity: O = (P o M) V
// is linear in V, so dV = (P o M)^T dO and <dV, V> = <dO, O> = |O|^2, while a backward with
// another mask, or none, gives <O, O'>, well outside the 2% band at p = 0.3 on these short
// sequences (dropping only the 1 / (1 - p) scale gives 0.7).
TEST(CudnnAttentionGpu, DropoutIsReproducibleAndTheBackwardUsesTheForwardsMask) {
  MASKLM_SKIP_WITHOUT_GPU();
  MASKLM_SKIP_WITHOUT_CUDNN();
  using BF16 = __nv_bfloat16;
  const FlashCase fc{{40, 1, 64, 17}, 2, 64, 0.3f, 1.0f, DType::BF16, AttentionKernel::CUDNN};
  const int64_t N = offsets(fc.lengths).back(), C = fc.NH * fc.HS;
  const auto qkv = rounded<BF16>(random_vector<float>(N * 3 * C, 11));
  const std::vector<float> zero_dqkv(static_cast<size_t>(N * 3 * C));
  const std::vector<float> zero_dout(static_cast<size_t>(N * C));
  GpuOps g;
  const std::vector<float> out =
      to_float(run_on_gpu<BF16>(g, fc, qkv, zero_dout, zero_dqkv, fc.kernel).out);
  const auto first = run_on_gpu<BF16>(g, fc, qkv, out, zero_dqkv, fc.kernel);
  const auto second = run_on_gpu<BF16>(g, fc, qkv, out, zero_dqkv, fc.kernel);
  expect_bitwise_equal(first.out, second.out, "out");
  expect_bitwise_equal(first.lse, second.lse, "lse");
  expect_bitwise_equal(first.dqkv, second.dqkv, "dqkv");
  EXPECT_EQ(to_float(first.out), out) << "the same key drew another mask";

  FlashCase no_dropout = fc;
  no_dropout.dropout_p = 0;
  const std::vector<float> kept =
      to_float(run_on_gpu<BF16>(g, no_dropout, qkv, zero_dout, zero_dqkv, fc.kernel).out);
  int64_t changed = 0;
  for (size_t i = 0; i < out.size(); ++i) changed += out[i] != kept[i];
  EXPECT_GT(changed, static_cast<int64_t>(out.size() / 2)) << "dropout changed too few outputs";

  const std::vector<float> dv = section(to_float(first.dqkv), N, C, 2), v = section(qkv, N, C, 2);
  double dv_dot_v = 0, out_norm2 = 0;
  for (size_t i = 0; i < dv.size(); ++i) dv_dot_v += double{dv[i]} * v[i];
  for (float o : out) out_norm2 += double{o} * o;
  ASSERT_GT(out_norm2, 0.0);
  EXPECT_NEAR(dv_dot_v / out_norm2, 1.0, 0.02) << "<dV, V> against |O|^2";
}

TEST(FlashAttentionGpuErrors, BadCuSeqlensAreReported) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t N = 6, C = 64, NH = 2;
  for (std::vector<int32_t> cu : {std::vector<int32_t>{0, 4, 3, 6}, std::vector<int32_t>{1, 6},
                                  std::vector<int32_t>{0, 2, 9}}) {
    GpuOps g;
    const auto B = static_cast<int64_t>(cu.size()) - 1;
    const auto qkv = to16<__nv_bfloat16>(random_vector<float>(N * 3 * C, 1));
    attention_forward(g.ctx, g.output<__nv_bfloat16>({N, C}), g.output({NH, N}),
                      g.up(qkv, {N, 3 * C}), g.up(cu, {B + 1}), static_cast<int>(NH), 0.0f,
                      RngKey{});
    testing::expect_error([&] { g.cuda.synchronize(); }, "cu_seqlens");
    g.expect_guards_intact();
  }
}

TEST(FlashAttentionGpuErrors, UnsupportedHeadSizeAndDtypesAreRejected) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t N = 4, NH = 2;
  GpuOps g;
  const std::vector<int32_t> cu{0, N};
  const Tensor d_cu = g.up(cu, {2});
  const int64_t C48 = NH * 48;  // head size 48: no instance
  const auto forward48 = [&] {
    attention_forward(g.ctx, g.output<__half>({N, C48}), g.output({NH, N}),
                      g.up(to16<__half>(random_vector<float>(N * 3 * C48, 1)), {N, 3 * C48}), d_cu,
                      static_cast<int>(NH), 0.0f, RngKey{});
  };
  forward48();  // AUTO falls back to the reference kernel
  g.cuda.synchronize();
  g.ctx.attention = AttentionKernel::FUSED;
  testing::expect_error(forward48, "head size 48");
  const int64_t C = NH * 64;  // a 16-bit lse: statistics are fp32
  testing::expect_error(
      [&] {
        attention_forward(g.ctx, g.output<__half>({N, C}), g.output<__half>({NH, N}),
                          g.up(to16<__half>(random_vector<float>(N * 3 * C, 1)), {N, 3 * C}), d_cu,
                          static_cast<int>(NH), 0.0f, RngKey{});
      },
      "lse");
}

// AttentionKernel::REFERENCE in 16 bits on the GPU runs the fp32 kernel on widened copies,
// as the CPU does: the two agree to fp32 summation order before the one rounding (far
// inside the 16-bit bound), and both agree with the fused kernel within the 16-bit bound.
TEST(FlashAttentionGpuKernels, ReferenceIn16BitsMatchesTheCpuAndTheFusedKernel) {
  MASKLM_SKIP_WITHOUT_GPU();
  const FlashCase fc{{127, 1, 70}, 2, 64, 0.1f, 1.0f, DType::BF16};
  auto cu = offsets(fc.lengths);
  const int64_t N = cu.back(), C = fc.NH * fc.HS;
  const auto qkv = rounded<__nv_bfloat16>(random_vector<float>(N * 3 * C, 7));
  const auto dout = rounded<__nv_bfloat16>(random_vector<float>(N * C, 8));
  const auto dqkv0 = rounded<__nv_bfloat16>(random_vector<float>(N * 3 * C, 9));
  using BF16 = __nv_bfloat16;
  GpuOps g;
  const auto reference = run_on_gpu<BF16>(g, fc, qkv, dout, dqkv0, AttentionKernel::REFERENCE);
  const auto fused = run_on_gpu<BF16>(g, fc, qkv, dout, dqkv0, AttentionKernel::FUSED);

  std::vector<__nv_bfloat16> out(N * C), dqkv = to16<__nv_bfloat16>(dqkv0);
  std::vector<float> lse(fc.NH * N);
  auto qkv16 = to16<__nv_bfloat16>(qkv), dout16 = to16<__nv_bfloat16>(dout);
  Ctx cpu = cpu_ctx();
  const int heads = static_cast<int>(fc.NH);
  attention_forward(cpu, host_tensor(out, {N, C}), host_tensor(lse, {fc.NH, N}),
                    host_tensor(qkv16, {N, 3 * C}), host_tensor(cu), heads, fc.dropout_p, kKey);
  attention_backward(cpu, host_tensor(dqkv, {N, 3 * C}), host_tensor(dout16, {N, C}),
                     host_tensor(out, {N, C}), host_tensor(qkv16, {N, 3 * C}),
                     host_tensor(lse, {fc.NH, N}), host_tensor(cu), heads, fc.dropout_p, kKey);
  const double tight = testing::nmse_bound(DType::BF16) / 100;
  testing::expect_close(to_float(reference.out), to_float(out), tight, "reference out vs CPU");
  testing::expect_close(reference.lse, lse, testing::nmse_bound(DType::F32), "reference lse");
  testing::expect_close(to_float(reference.dqkv), to_float(dqkv), tight, "reference dqkv vs CPU");
  const double bound = testing::nmse_bound(DType::BF16);
  testing::expect_close(to_float(fused.out), to_float(reference.out), bound, "fused out");
  testing::expect_close(to_float(fused.dqkv), to_float(reference.dqkv), bound, "fused dqkv");
}

// The CPU emulates 16-bit attention (tests/test_ops_16bit.cpp) with the fused kernel's
// dtypes: qkv and out BF16 beside an F32 lse, and nothing else.
TEST(FlashAttentionCpu, SixteenBitTensorsTakeTheFusedKernelsDtypesOnTheCpu) {
  const int64_t N = 2, C = 64;
  auto qkv = to16<__nv_bfloat16>(random_vector<float>(N * 3 * C, 1));
  std::vector<__nv_bfloat16> out(N * C), lse16(N);
  std::vector<float> lse(N);
  std::vector<int32_t> cu{0, N};
  Ctx cpu = cpu_ctx();
  const auto forward = [&](const Tensor& lse_tensor) {
    attention_forward(cpu, host_tensor(out, {N, C}), lse_tensor, host_tensor(qkv, {N, 3 * C}),
                      host_tensor(cu), 1, 0.0f, RngKey{});
  };
  forward(host_tensor(lse, {1, N}));
  EXPECT_TRUE(std::all_of(lse.begin(), lse.end(), [](float x) { return std::isfinite(x); }));
  testing::expect_error([&] { forward(host_tensor(lse16, {1, N})); }, "lse");
}

}  // namespace
}  // namespace masklm
