// GPU attention on unpadded variable-length sequences against the CPU: sequences of length
// 1, 127 and 513 mixed in one batch, head sizes 59, 257 and 64, with and without dropout
// (same Philox indexing), sharp softmaxes, and bad cu_seqlens reported instead of read; and
// the reference kernel on 16-bit tensors (its widened copies) at the odd widths.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "gradcheck.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_close;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
using gpu_testing::to_storage;
using gpu_testing::widen;
using testing::random_vector;

struct AttentionCase {
  std::vector<int32_t> lengths;
  int64_t C, NH;
  float dropout_p;
  float sharpness;  // multiplies qkv: large values saturate the softmax
};

std::vector<int32_t> offsets(const std::vector<int32_t>& lengths) {
  std::vector<int32_t> cu{0};
  for (int32_t len : lengths) cu.push_back(cu.back() + len);
  return cu;
}

class AttentionGpu : public ::testing::TestWithParam<AttentionCase> {};
INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionGpu,
    ::testing::Values(AttentionCase{{1}, 59, 1, 0.0f, 1.0f},
                      AttentionCase{{127}, 771, 3, 0.0f, 1.0f},
                      AttentionCase{{513}, 768, 12, 0.1f, 1.0f},
                      AttentionCase{{1, 127, 513, 3}, 59, 1, 0.1f, 1.0f},
                      AttentionCase{{1, 127, 513, 3}, 771, 3, 0.0f, 1.0f},
                      AttentionCase{{7, 1, 127}, 768, 12, 0.0f, 6.0f}),
    // "len1_127_513_3_C771_nh3_drop0_sharp1": names that say the shape (and that ctest filters).
    [](const ::testing::TestParamInfo<AttentionCase>& info) {
      const AttentionCase& c = info.param;
      std::string lengths;
      for (const int32_t len : c.lengths) lengths += fmt::format("{}_", len);
      return fmt::format("len{}C{}_nh{}_drop{}_sharp{}", lengths, c.C, c.NH,
                         static_cast<int>(c.dropout_p * 100), static_cast<int>(c.sharpness));
    });

TEST_P(AttentionGpu, ForwardAndBackwardMatchCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const AttentionCase& ac = GetParam();
  auto cu = offsets(ac.lengths);
  const int64_t N = cu.back(), C = ac.C, NH = ac.NH, B = static_cast<int64_t>(ac.lengths.size());
  const int heads = static_cast<int>(NH);
  auto qkv = random_vector<float>(N * 3 * C, 1, -ac.sharpness, ac.sharpness);
  auto dout = random_vector<float>(N * C, 2);
  const auto dqkv0 = random_vector<float>(N * 3 * C, 3);
  const RngKey key{.seed = 77, .step = 3, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT, .substream = 1};
  std::vector<float> out(static_cast<size_t>(N * C)), lse(static_cast<size_t>(NH * N)), dqkv = dqkv0;
  Ctx cpu = cpu_ctx();
  attention_forward(cpu, host_tensor(out, {N, C}), host_tensor(lse, {NH, N}), host_tensor(qkv, {N, 3 * C}),
                    host_tensor(cu), heads, ac.dropout_p, key);
  attention_backward(cpu, host_tensor(dqkv, {N, 3 * C}), host_tensor(dout, {N, C}), host_tensor(out, {N, C}),
                     host_tensor(qkv, {N, 3 * C}), host_tensor(lse, {NH, N}), host_tensor(cu), heads, ac.dropout_p, key);

  GpuOps g;
  const Tensor d_qkv = g.up(qkv, {N, 3 * C}), d_cu = g.up(cu, {B + 1});
  const Tensor d_out = g.output({N, C}), d_lse = g.output({NH, N}), d_dqkv = g.up(dqkv0, {N, 3 * C});
  attention_forward(g.ctx, d_out, d_lse, d_qkv, d_cu, heads, ac.dropout_p, key);
  // The backward gets the CPU's out and lse, so it is compared on identical inputs.
  attention_backward(g.ctx, d_dqkv, g.up(dout, {N, C}), g.up(out, {N, C}), d_qkv, g.up(lse, {NH, N}), d_cu, heads,
                     ac.dropout_p, key);
  const double bound = nmse_bound(DType::F32);
  expect_close(g.down<float>(d_out), out, bound, "attention out");
  expect_close(g.down<float>(d_lse), lse, bound, "lse");
  expect_close(g.down<float>(d_dqkv), dqkv, bound, "dqkv");
  g.expect_guards_intact();
}

// train.attention reference on 16-bit tensors: the fp32 kernel on widened copies of rows
// whose 16-bit widths (59 and 771 values) are not multiples of 4 bytes, against the CPU,
// which widens the same way: fp32 summation order apart, then one rounding, so the results
// agree far inside the 16-bit bound. One dtype per case (the emulation in CI is slow).
struct Attention16Case {
  AttentionCase shape;
  DType dtype;
};
class Attention16Gpu : public ::testing::TestWithParam<Attention16Case> {};
INSTANTIATE_TEST_SUITE_P(Shapes, Attention16Gpu,
                         ::testing::Values(Attention16Case{{{1, 127, 513, 3}, 59, 1, 0.1f, 1.0f}, DType::BF16},
                                           Attention16Case{{{1, 127, 3}, 771, 3, 0.0f, 1.0f}, DType::F16}),
                         [](const ::testing::TestParamInfo<Attention16Case>& info) {
                           return fmt::format("C{}_{}", info.param.shape.C, dtype_name(info.param.dtype));
                         });

template <typename T16> void expect_reference_in_16bit_matches_cpu(const AttentionCase& ac) {
  auto cu = offsets(ac.lengths);
  const int64_t N = cu.back(), C = ac.C, NH = ac.NH, B = static_cast<int64_t>(ac.lengths.size());
  const int heads = static_cast<int>(NH);
  auto qkv = to_storage<T16>(random_vector<float>(N * 3 * C, 1, -ac.sharpness, ac.sharpness));
  auto dout = to_storage<T16>(random_vector<float>(N * C, 2));
  const auto dqkv0 = to_storage<T16>(random_vector<float>(N * 3 * C, 3));
  const RngKey key{.seed = 78, .step = 3, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT, .substream = 1};
  std::vector<T16> out(static_cast<size_t>(N * C)), dqkv = dqkv0;
  std::vector<float> lse(static_cast<size_t>(NH * N));
  Ctx cpu = cpu_ctx();
  attention_forward(cpu, host_tensor(out, {N, C}), host_tensor(lse, {NH, N}), host_tensor(qkv, {N, 3 * C}),
                    host_tensor(cu), heads, ac.dropout_p, key);
  attention_backward(cpu, host_tensor(dqkv, {N, 3 * C}), host_tensor(dout, {N, C}), host_tensor(out, {N, C}),
                     host_tensor(qkv, {N, 3 * C}), host_tensor(lse, {NH, N}), host_tensor(cu), heads,
                     ac.dropout_p, key);

  GpuOps g;
  g.ctx.attention = AttentionKernel::REFERENCE;
  const Tensor d_qkv = g.up(qkv, {N, 3 * C}), d_cu = g.up(cu, {B + 1});
  const Tensor d_out = g.output<T16>({N, C}), d_lse = g.output({NH, N}), d_dqkv = g.up(dqkv0, {N, 3 * C});
  attention_forward(g.ctx, d_out, d_lse, d_qkv, d_cu, heads, ac.dropout_p, key);
  attention_backward(g.ctx, d_dqkv, g.up(dout, {N, C}), g.up(out, {N, C}), d_qkv, g.up(lse, {NH, N}), d_cu, heads,
                     ac.dropout_p, key);
  const double tight = nmse_bound(dtype_of<T16>()) / 100;
  expect_close(widen(g.down<T16>(d_out)), widen(out), tight, "attention out");
  expect_close(g.down<float>(d_lse), lse, nmse_bound(DType::F32), "lse");
  expect_close(widen(g.down<T16>(d_dqkv)), widen(dqkv), tight, "dqkv");
  g.expect_guards_intact();
}

TEST_P(Attention16Gpu, ReferenceKernelMatchesCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  if (GetParam().dtype == DType::BF16)
    expect_reference_in_16bit_matches_cpu<__nv_bfloat16>(GetParam().shape);
  else
    expect_reference_in_16bit_matches_cpu<__half>(GetParam().shape);
}

TEST(AttentionGpuErrors, BadCuSeqlensAreReported) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t N = 6, C = 8, NH = 2;
  for (std::vector<int32_t> cu : {std::vector<int32_t>{0, 4, 3, 6}, std::vector<int32_t>{1, 6},
                                  std::vector<int32_t>{0, 2, 9}}) {
    GpuOps g;
    const Tensor d_out = g.output({N, C}), d_lse = g.output({NH, N});
    const auto B = static_cast<int64_t>(cu.size()) - 1;
    attention_forward(g.ctx, d_out, d_lse, g.up(random_vector<float>(N * 3 * C, 1), {N, 3 * C}), g.up(cu, {B + 1}),
                      static_cast<int>(NH), 0.0f, RngKey{});
    testing::expect_error([&] { g.cuda.synchronize(); }, "cu_seqlens");
    g.expect_guards_intact();
  }
}

}  // namespace
}  // namespace masklm
