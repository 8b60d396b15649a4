// The padded-layout copies behind train.attention cudnn (kernels/cuda/padded_layout.cu)
// against the same moves written out on the host: rows to (B, S, W) with zeros after each
// sequence (including an empty one), back again (= and +=), and the statistics between
// (NH, N) and (B, NH, S). Copies are exact, so every comparison is bitwise, and guard bands
// catch writes outside the outputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "gpu/op_harness.cuh"
#include "kernels/cuda/padded_layout.cuh"
#include "kernels/cuda/precision.h"

namespace masklm {
namespace {

using gpu_testing::GpuOps;
using BF16 = __nv_bfloat16;

// Sequences of 3, 0, 5 and 1 tokens padded to 8, rows of 6 values, 3 heads.
const std::vector<int32_t> kCu{0, 3, 3, 8, 9};
constexpr int64_t kB = 4, kS = 8, kW = 6, kN = 9, kNH = 3;

// Distinct small integers: exact in bf16, and any misplaced element shows.
std::vector<BF16> rows(int64_t n, float first) {
  std::vector<BF16> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = BF16(first + static_cast<float>(i % 200));
  return v;
}

int64_t token_row(int64_t b, int64_t s) {
  return s < kCu[b + 1] - kCu[b] ? kCu[b] + s : -1;
}

std::vector<float> as_float(const std::vector<BF16>& v) { return {v.begin(), v.end()}; }

TEST(PaddedLayoutGpu, RowsGoToThePaddedLayoutAndBack) {
  MASKLM_SKIP_WITHOUT_GPU();
  const std::vector<BF16> src = rows(kN * kW, 1);
  std::vector<float> want(static_cast<size_t>(kB * kS * kW), 0.0f);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t s = 0; s < kS; ++s)
      if (const int64_t row = token_row(b, s); row >= 0)
        for (int64_t w = 0; w < kW; ++w)
          want[(b * kS + s) * kW + w] = static_cast<float>(src[row * kW + w]);

  GpuOps g;
  const Tensor d_cu = g.up(kCu), d_src = g.up(src, {kN, kW});
  const Tensor padded = g.output<BF16>({kB * kS, kW});  // NaN: padding must be written too
  cuda::pad_rows(g.cuda, DType::BF16, padded.data, d_src.data, d_cu.ptr<int32_t>(), kB, kS, kW);
  EXPECT_EQ(as_float(g.down<BF16>(padded)), want);

  const Tensor copy = g.output<BF16>({kN, kW});
  cuda::unpad_rows(g.cuda, DType::BF16, copy.data, padded.data, d_cu.ptr<int32_t>(), kB, kS, kW,
                   /*accumulate=*/false);
  EXPECT_EQ(as_float(g.down<BF16>(copy)), as_float(src));

  const std::vector<BF16> base = rows(kN * kW, 500);
  const Tensor sum = g.up(base, {kN, kW});
  cuda::unpad_rows(g.cuda, DType::BF16, sum.data, padded.data, d_cu.ptr<int32_t>(), kB, kS, kW,
                   /*accumulate=*/true);
  std::vector<float> want_sum = as_float(base);
  // Added in fp32, rounded once to bf16 (which is 2 apart above 256, 4 apart above 512).
  for (size_t i = 0; i < want_sum.size(); ++i)
    want_sum[i] = static_cast<float>(BF16(want_sum[i] + static_cast<float>(src[i])));
  EXPECT_EQ(as_float(g.down<BF16>(sum)), want_sum);
  g.expect_guards_intact();
}

TEST(PaddedLayoutGpu, StatisticsGoToThePaddedLayoutAndBack) {
  MASKLM_SKIP_WITHOUT_GPU();
  std::vector<float> lse(static_cast<size_t>(kNH * kN));
  for (size_t i = 0; i < lse.size(); ++i) lse[i] = 0.25f * static_cast<float>(i) - 3.0f;
  std::vector<float> want(static_cast<size_t>(kB * kNH * kS), 0.0f);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t h = 0; h < kNH; ++h)
      for (int64_t s = 0; s < kS; ++s)
        if (const int64_t row = token_row(b, s); row >= 0)
          want[(b * kNH + h) * kS + s] = lse[h * kN + row];

  GpuOps g;
  const Tensor d_cu = g.up(kCu), d_lse = g.up(lse, {kNH, kN});
  const Tensor stats = g.output({kB * kNH, kS});
  cuda::lse_to_padded(g.cuda, stats.ptr<float>(), d_lse.ptr<float>(), d_cu.ptr<int32_t>(), kB,
                      kS, kNH, kN);
  EXPECT_EQ(g.down<float>(stats), want);

  const Tensor back = g.output({kNH, kN});
  cuda::padded_to_lse(g.cuda, back.ptr<float>(), stats.ptr<float>(), d_cu.ptr<int32_t>(), kB, kS,
                      kNH, kN);
  EXPECT_EQ(g.down<float>(back), lse);
  g.expect_guards_intact();
}

}  // namespace
}  // namespace masklm
