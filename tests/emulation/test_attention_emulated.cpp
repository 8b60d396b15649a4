// The reference attention kernels (kernels/cuda/attention_kernels.cuh: one warp per token
// and head, fp32) under the CUDA emulation, launched as attention.cu launches them, against
// the CPU op in fp64: an empty sequence, a 1-token one, a head size above the warp's 32
// lanes, dropout, and bad cu_seqlens.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/attention_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::bound_for;
using emulated_testing::expect_close;
using emulated_testing::f64;
using emulated_testing::i32;
using emulated_testing::random_values;
using emulated_testing::widen;

// Every launch_per_token of attention.cu: (token blocks, heads), `vectors` slices per warp.
template <typename... Params, typename... Args>
void launch_per_token(void (*kernel)(Params...), const AttentionShape& s, int64_t NH, int vectors,
                      Args... args) {
  emulator::launch(
      kernel, {static_cast<unsigned>(CEIL_DIV(s.N, kWarpsPerBlock)), static_cast<unsigned>(NH), 1},
      kWarpsPerBlock * WARP_SIZE, per_token_smem_bytes(s.HS, vectors), args...);
}

class AttentionEmulated : public ::testing::TestWithParam<float> {};

TEST_P(AttentionEmulated, ForwardAndBackwardMatchTheCpuOpsInFp64) {
  const float p = GetParam();
  std::vector<int32_t> cu{0, 1, 8, 8, 29};
  const int64_t B = 4, N = 29, NH = 2, HS = 40, C = NH * HS;
  const AttentionShape s{
      B, N, C, HS, 1.0f / std::sqrt(static_cast<float>(HS)), p, 1.0f / (1.0f - p)};
  const RngKey key{
      .seed = 3, .step = 1, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT, .substream = 1};
  const auto qkv = random_values<float>(N * 3 * C, 1.0, 1),
             dout = random_values<float>(N * C, 1.0, 2);
  const auto dqkv0 = random_values<float>(N * 3 * C, 0.1, 3);
  std::vector<float> out(N * C, NAN), lse(NH * N, NAN), D(NH * N, NAN), dqkv = dqkv0;
  int error_flag = 0;
  emulator::launch(validate_cu_seqlens_kernel, {1, 1, 1}, 256, 0,
                   static_cast<const int32_t*>(cu.data()), B, N, &error_flag);
  launch_per_token(attention_forward_kernel, s, NH, 2, out.data(), lse.data(), qkv.data(),
                   static_cast<const int32_t*>(cu.data()), s, key, &error_flag);
  launch_per_token(attention_dq_kernel, s, NH, 3, dqkv.data(), D.data(), dout.data(),
                   static_cast<const float*>(out.data()), qkv.data(),
                   static_cast<const float*>(lse.data()), static_cast<const int32_t*>(cu.data()), s,
                   key, &error_flag);
  launch_per_token(attention_dkv_kernel, s, NH, 4, dqkv.data(), static_cast<const float*>(D.data()),
                   dout.data(), qkv.data(), static_cast<const float*>(lse.data()),
                   static_cast<const int32_t*>(cu.data()), s, key, &error_flag);
  EXPECT_EQ(error_flag, 0);

  auto x = widen(qkv), dO = widen(dout);
  std::vector<double> ref_out(N * C), ref_lse(NH * N), ref_dqkv = widen(dqkv0);
  Ctx cpu;
  attention_forward(cpu, f64(ref_out, {N, C}), f64(ref_lse, {NH, N}), f64(x, {N, 3 * C}),
                    i32(cu, {B + 1}), static_cast<int>(NH), p, key);
  attention_backward(cpu, f64(ref_dqkv, {N, 3 * C}), f64(dO, {N, C}), f64(ref_out, {N, C}),
                     f64(x, {N, 3 * C}), f64(ref_lse, {NH, N}), i32(cu, {B + 1}),
                     static_cast<int>(NH), p, key);
  const double bound = bound_for<float>();
  expect_close(widen(out), ref_out, bound, "out");
  expect_close(widen(lse), ref_lse, bound, "lse");
  expect_close(widen(dqkv), ref_dqkv, bound, "dqkv (after +=)");
}

INSTANTIATE_TEST_SUITE_P(Dropout, AttentionEmulated, ::testing::Values(0.0f, 0.1f));

// Decreasing offsets, a first offset above 0 and a last one below N: the validation flags
// each; the forward flags the last two, where some token lies in no sequence, instead of
// reading outside [0, N).
TEST(AttentionEmulatedErrors, BadCuSeqlensRaiseTheDeviceFlag) {
  const int64_t N = 10;
  const int bad = static_cast<int>(DeviceError::BAD_CU_SEQLENS);
  for (const auto& [cu, forward_notices] : {std::pair{std::vector<int32_t>{0, 6, 4, 10}, false},
                                            std::pair{std::vector<int32_t>{1, 4, 10}, true},
                                            std::pair{std::vector<int32_t>{0, 4, 9}, true}}) {
    const auto B = static_cast<int64_t>(cu.size()) - 1;
    int validate_flag = 0, forward_flag = 0;
    emulator::launch(validate_cu_seqlens_kernel, {1, 1, 1}, 256, 0, cu.data(), B, N,
                     &validate_flag);
    EXPECT_EQ(validate_flag, bad) << ::testing::PrintToString(cu);
    const AttentionShape s{B, N, 32, 32, 1.0f, 0.0f, 1.0f};
    const auto qkv = random_values<float>(N * 3 * 32, 1.0, 4);
    std::vector<float> out(N * 32), lse(N);
    launch_per_token(attention_forward_kernel, s, 1, 2, out.data(), lse.data(), qkv.data(),
                     cu.data(), s, RngKey{}, &forward_flag);
    if (forward_notices) {
      EXPECT_EQ(forward_flag, bad) << ::testing::PrintToString(cu);
    }
  }
}

}  // namespace
}  // namespace masklm::cuda
