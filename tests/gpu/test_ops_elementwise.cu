// GPU elementwise ops against the CPU: GELU (with extreme inputs), residual, add_inplace,
// scale, fill_zero, and dropout, whose mask must be identical to the CPU's; in F32, and in
// BF16/F16 against the CPU in F64 on the same 16-bit inputs; convert, bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

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

// Sizes that are not multiples of a warp, a block or a Philox block of 4, plus large ones
// that need several grid-stride rounds (hidden 771 x 513 tokens).
class Elementwise : public ::testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(Sizes, Elementwise, ::testing::Values(1, 3, 59, 771, 59 * 127, 771 * 513));

// Inputs in [-4, 4] with the extremes +-150 (exp and erf saturate) at every 7th place.
constexpr int64_t kGeluExtremeEvery = 7;
std::vector<float> gelu_inputs(int64_t n, uint32_t seed) {
  auto x = random_vector<float>(n, seed, -4, 4);
  for (int64_t i = 0; i < n; i += kGeluExtremeEvery)
    x[static_cast<size_t>(i)] = i % (2 * kGeluExtremeEvery) == 0 ? 150.0f : -150.0f;
  return x;
}

// GELU's results compared apart at the extreme inputs and the others: in one NMSE the
// outputs of +150 would make up nearly all of the sum of squares and hide errors at the
// inputs in [-4, 4] hundreds of times over the bound.
template <typename T>
void expect_gelu_close(const std::vector<T>& got, const std::vector<T>& ref, double bound,
                       const std::string& what) {
  std::vector<T> got_parts[2], ref_parts[2];  // [0]: inputs in [-4, 4], [1]: the extremes
  for (size_t i = 0; i < ref.size(); ++i) {
    const int part = i % kGeluExtremeEvery == 0;
    got_parts[part].push_back(got[i]);
    ref_parts[part].push_back(ref[i]);
  }
  if (!ref_parts[0].empty()) expect_close(got_parts[0], ref_parts[0], bound, what + " at |x| <= 4");
  expect_close(got_parts[1], ref_parts[1], bound, what + " at |x| = 150");
}

TEST_P(Elementwise, GeluForwardAndBackwardMatchCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  auto x = gelu_inputs(n, 1), dout = random_vector<float>(n, 2);
  const auto din_start = random_vector<float>(n, 3);  // backward accumulates onto this
  std::vector<float> out(static_cast<size_t>(n)), din = din_start;
  Ctx cpu = cpu_ctx();
  gelu_forward(cpu, host_tensor(out), host_tensor(x));
  gelu_backward(cpu, host_tensor(din), host_tensor(dout), host_tensor(x));

  GpuOps g;
  const Tensor d_x = g.up(x), d_out = g.output({n}), d_din = g.up(din_start);
  gelu_forward(g.ctx, d_out, d_x);
  gelu_backward(g.ctx, d_din, g.up(dout), d_x);
  expect_gelu_close(g.down<float>(d_out), out, nmse_bound(DType::F32), "gelu out");
  expect_gelu_close(g.down<float>(d_din), din, nmse_bound(DType::F32), "gelu din");
  g.expect_guards_intact();
}

TEST_P(Elementwise, ResidualAddScaleAndZeroMatchCpuBitwise) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  auto a = random_vector<float>(n, 4), b = random_vector<float>(n, 5);
  std::vector<float> sum(static_cast<size_t>(n)), acc = a;
  Ctx cpu = cpu_ctx();
  residual_forward(cpu, host_tensor(sum), host_tensor(a), host_tensor(b));
  add_inplace(cpu, host_tensor(acc), host_tensor(b));
  scale_inplace(cpu, host_tensor(acc), -0.37);

  GpuOps g;
  const Tensor d_a = g.up(a), d_b = g.up(b), d_sum = g.output({n}), d_acc = g.up(a), d_zero = g.up(b);
  residual_forward(g.ctx, d_sum, d_a, d_b);
  add_inplace(g.ctx, d_acc, d_b);
  scale_inplace(g.ctx, d_acc, -0.37);
  fill_zero(g.ctx, d_zero);
  expect_bitwise_equal(g.down<float>(d_sum), sum, "residual");
  expect_bitwise_equal(g.down<float>(d_acc), acc, "add_inplace then scale_inplace");
  expect_bitwise_equal(g.down<float>(d_zero), std::vector<float>(static_cast<size_t>(n), 0.0f), "fill_zero");
  g.expect_guards_intact();
}

// The same key drops the same elements on both backends, and kept values are bitwise equal
// (both multiply by the same host-computed 1 / (1 - p)); the backward recomputes that mask.
TEST_P(Elementwise, DropoutMaskAndValuesAreIdenticalToCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  const RngKey key{.seed = 0xfeed'beef'1234ull, .step = 9, .rank = 2, .stream = RngStream::HIDDEN_DROPOUT,
                   .substream = 5};
  for (const float p : {0.0f, 0.1f, 0.5f}) {
    auto x = random_vector<float>(n, 6, 0.5, 1.5);  // never 0, so a 0 output means dropped
    auto dout = random_vector<float>(n, 7);
    const auto din_start = random_vector<float>(n, 8);
    std::vector<float> out(static_cast<size_t>(n)), din = din_start;
    Ctx cpu = cpu_ctx();
    dropout_forward(cpu, host_tensor(out), host_tensor(x), p, key);
    dropout_backward(cpu, host_tensor(din), host_tensor(dout), p, key);

    GpuOps g;
    const Tensor d_out = g.output({n}), d_inplace = g.up(x), d_din = g.up(din_start);
    dropout_forward(g.ctx, d_out, g.up(x), p, key);
    dropout_forward(g.ctx, d_inplace, d_inplace, p, key);  // out may alias in
    dropout_backward(g.ctx, d_din, g.up(dout), p, key);
    const auto gpu_out = g.down<float>(d_out);
    int64_t mask_differences = 0;
    for (size_t i = 0; i < out.size(); ++i) mask_differences += (gpu_out[i] == 0.0f) != (out[i] == 0.0f);
    EXPECT_EQ(mask_differences, 0) << "p = " << p;
    expect_bitwise_equal(gpu_out, out, "dropout out");
    expect_bitwise_equal(g.down<float>(d_inplace), out, "in-place dropout");
    expect_bitwise_equal(g.down<float>(d_din), din, "dropout din");
    g.expect_guards_intact();
  }
}

// ---- 16-bit storage ------------------------------------------------------------------
// Each 16-bit result against the CPU op in F64 on the same rounded inputs.

TEST_P(Elementwise, GeluIn16BitMatchesCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  for_each_16bit([&]<typename T16>() {
    const auto x = to_storage<T16>(gelu_inputs(n, 1)), dout = to_storage<T16>(random_vector<float>(n, 2));
    const auto din_start = to_storage<T16>(random_vector<float>(n, 3));
    auto x64 = widen(x), dout64 = widen(dout), din64 = widen(din_start);
    std::vector<double> out64(static_cast<size_t>(n));
    Ctx cpu = cpu_ctx();
    gelu_forward(cpu, host_tensor(out64), host_tensor(x64));
    gelu_backward(cpu, host_tensor(din64), host_tensor(dout64), host_tensor(x64));

    GpuOps g;
    const Tensor d_x = g.up(x), d_out = g.output<T16>({n}), d_din = g.up(din_start);
    gelu_forward(g.ctx, d_out, d_x);
    gelu_backward(g.ctx, d_din, g.up(dout), d_x);
    const double bound = nmse_bound(dtype_of<T16>());
    expect_gelu_close(widen(g.down<T16>(d_out)), out64, bound, "gelu out");
    expect_gelu_close(widen(g.down<T16>(d_din)), din64, bound, "gelu din");
    g.expect_guards_intact();
  });
}

TEST_P(Elementwise, ResidualAddAndScaleIn16BitMatchCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  for_each_16bit([&]<typename T16>() {
    const auto a = to_storage<T16>(random_vector<float>(n, 4)), b = to_storage<T16>(random_vector<float>(n, 5));
    auto a64 = widen(a), b64 = widen(b), acc64 = widen(a);
    std::vector<double> sum64(static_cast<size_t>(n));
    Ctx cpu = cpu_ctx();
    residual_forward(cpu, host_tensor(sum64), host_tensor(a64), host_tensor(b64));
    add_inplace(cpu, host_tensor(acc64), host_tensor(b64));
    std::vector<double> scaled64 = a64;
    scale_inplace(cpu, host_tensor(scaled64), -0.37);

    GpuOps g;
    const Tensor d_a = g.up(a), d_b = g.up(b), d_sum = g.output<T16>({n}), d_acc = g.up(a);
    const Tensor d_scaled = g.up(a), d_zero = g.up(b);
    residual_forward(g.ctx, d_sum, d_a, d_b);
    add_inplace(g.ctx, d_acc, d_b);
    scale_inplace(g.ctx, d_scaled, -0.37);
    fill_zero(g.ctx, d_zero);
    const double bound = nmse_bound(dtype_of<T16>());
    expect_close(widen(g.down<T16>(d_sum)), sum64, bound, "residual");
    expect_close(widen(g.down<T16>(d_acc)), acc64, bound, "add_inplace");
    expect_close(widen(g.down<T16>(d_scaled)), scaled64, bound, "scale_inplace");
    expect_bitwise_equal(widen(g.down<T16>(d_zero)), std::vector<double>(static_cast<size_t>(n), 0.0), "fill_zero");
    g.expect_guards_intact();
  });
}

// The 16-bit dropout draws the same Philox words, so it drops exactly the CPU's elements.
TEST_P(Elementwise, DropoutIn16BitKeepsTheCpuMask) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  const RngKey key{.seed = 0x5eed, .step = 3, .rank = 1, .stream = RngStream::HIDDEN_DROPOUT, .substream = 7};
  for_each_16bit([&]<typename T16>() {
    for (const float p : {0.0f, 0.1f, 0.5f}) {
      SCOPED_TRACE(p);
      const auto x = to_storage<T16>(random_vector<float>(n, 6, 0.5, 1.5));  // never 0
      const auto dout = to_storage<T16>(random_vector<float>(n, 7));
      const auto din_start = to_storage<T16>(random_vector<float>(n, 8));
      auto x64 = widen(x), dout64 = widen(dout), din64 = widen(din_start);
      std::vector<double> out64(static_cast<size_t>(n));
      Ctx cpu = cpu_ctx();
      dropout_forward(cpu, host_tensor(out64), host_tensor(x64), p, key);
      dropout_backward(cpu, host_tensor(din64), host_tensor(dout64), p, key);

      GpuOps g;
      const Tensor d_out = g.output<T16>({n}), d_inplace = g.up(x), d_din = g.up(din_start);
      dropout_forward(g.ctx, d_out, g.up(x), p, key);
      dropout_forward(g.ctx, d_inplace, d_inplace, p, key);
      dropout_backward(g.ctx, d_din, g.up(dout), p, key);
      const auto out = widen(g.down<T16>(d_out));
      int64_t mask_differences = 0;
      for (size_t i = 0; i < out.size(); ++i) mask_differences += (out[i] == 0.0) != (out64[i] == 0.0);
      EXPECT_EQ(mask_differences, 0);
      const double bound = nmse_bound(dtype_of<T16>());
      // A batch of 1 or 3 values may drop them all; the mask check above then says it all.
      if (std::any_of(out64.begin(), out64.end(), [](double v) { return v != 0.0; }))
        expect_close(out, out64, bound, "dropout out");
      expect_bitwise_equal(widen(g.down<T16>(d_inplace)), out, "in-place dropout");
      expect_close(widen(g.down<T16>(d_din)), din64, bound, "dropout din");
      g.expect_guards_intact();
    }
  });
}

// ---- convert ----------------------------------------------------------------------
// Both backends round to nearest even, so they agree bit for bit; a NaN only has to stay a
// NaN, as the hardware's NaN bits need not be runtime/half.h's canonical ones.

template <typename T>
void expect_same_bits_or_both_nan(const std::vector<T>& gpu, const std::vector<T>& cpu,
                                  const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  int64_t differing = 0, first = -1;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const bool both_nan =
        std::isnan(static_cast<float>(gpu[i])) && std::isnan(static_cast<float>(cpu[i]));
    if (!both_nan && std::memcmp(&gpu[i], &cpu[i], sizeof(T)) != 0 && differing++ == 0)
      first = static_cast<int64_t>(i);
  }
  EXPECT_EQ(differing, 0) << what << ": " << differing
                          << " values differ in their bits, first at " << first;
}

// Random magnitudes from 2^-26 to 2^17 (F16's subnormals to past its overflow), the first
// values replaced by ties, subnormals, the largest values, infinities and NaN.
std::vector<float> conversion_inputs(int64_t n) {
  auto x = random_vector<float>(n, 9);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(x[i], static_cast<int>(i % 44) - 26);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special{0.0f, -0.0f, inf, -inf, std::nanf(""),
                                   1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f,     // bf16 ties
                                   1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,   // fp16 ties
                                   0x1p-24f, 0x1p-25f, 3 * 0x1p-25f,       // fp16 subnormals
                                   65504.0f, 65519.0f, 65520.0f, 0x1.FFp127f};  // overflow
  std::copy_n(special.begin(), std::min(x.size(), special.size()), x.begin());
  return x;
}

TEST_P(Elementwise, ConvertMatchesCpuBitwise) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  auto x = conversion_inputs(n);
  for_each_16bit([&]<typename T16>() {
    std::vector<T16> rounded(x.size());
    std::vector<float> widened(x.size());
    Ctx cpu = cpu_ctx();
    convert(cpu, host_tensor(rounded), host_tensor(x));
    convert(cpu, host_tensor(widened), host_tensor(rounded));

    GpuOps g;
    const Tensor d_rounded = g.output<T16>({n}), d_copy = g.output<T16>({n});
    const Tensor d_widened = g.output({n});
    convert(g.ctx, d_rounded, g.up(x));
    convert(g.ctx, d_widened, d_rounded);
    convert(g.ctx, d_copy, d_rounded);
    expect_same_bits_or_both_nan(g.down<T16>(d_rounded), rounded, "F32 to 16 bits");
    expect_same_bits_or_both_nan(g.down<float>(d_widened), widened, "16 bits to F32");
    expect_same_bits_or_both_nan(g.down<T16>(d_copy), rounded, "16-bit copy");
    g.expect_guards_intact();
  });
}

// Widening is exact: every one of the 2^16 bit patterns gives the CPU's float.
TEST(Convert, WideningEvery16BitPatternMatchesCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  for_each_16bit([&]<typename T16>() {
    std::vector<T16> all(1 << 16);
    for (uint32_t b = 0; b < all.size(); ++b) {
      const auto bits = static_cast<uint16_t>(b);
      std::memcpy(static_cast<void*>(&all[b]), &bits, sizeof bits);  // the raw bits
    }
    const auto n = static_cast<int64_t>(all.size());
    std::vector<float> widened(all.size());
    Ctx cpu = cpu_ctx();
    convert(cpu, host_tensor(widened), host_tensor(all));

    GpuOps g;
    const Tensor d_widened = g.output({n});
    convert(g.ctx, d_widened, g.up(all));
    expect_same_bits_or_both_nan(g.down<float>(d_widened), widened, "16 bits to F32");
    g.expect_guards_intact();
  });
}

}  // namespace
}  // namespace masklm
