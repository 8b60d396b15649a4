// The fused attention kernels (kernels/cuda/flash_attention_kernels.cuh) compiled for the
// CPU and run under the CUDA emulation of tests/emulation/include (cuda_emulator.h),
// against the CPU attention op in fp64: tiling, masking past a sequence's end, the online
// softmax, dropout indices, the fragment layouts of ldmatrix and mma.sync, the barriers and
// the cp.async groups, with copies landing late or early and blocks and threads run in either
// order (ctest runs it under both of the emulator's schedules, cuda_emulator.h).
// Speed, and whatever the PTX ISA leaves to the hardware, need a GPU
// (tests/gpu/test_flash_attention.cu).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/flash_attention_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::bound_for;
using emulated_testing::expect_close;
using emulated_testing::f64;
using emulated_testing::i32;
using emulated_testing::random_values;
using emulated_testing::widen;

struct EmulatedCase {
  std::string name;
  DType dtype;
  int head_size;
  int64_t heads;
  std::vector<int32_t> lengths;
  float dropout_p;
};

void PrintTo(const EmulatedCase& c, std::ostream* os) { *os << c.name; }

// Forward and backward through the emulated kernels; out, lse, and dqkv after +=.
template <typename T16, int kHS>
void run_kernels(const EmulatedCase& c, const std::vector<int32_t>& cu, std::vector<T16>& out,
                 std::vector<float>& lse, std::vector<T16>& dqkv, const std::vector<T16>& qkv,
                 const std::vector<T16>& dout, const RngKey& key, int& error_flag) {
  const int64_t B = static_cast<int64_t>(cu.size()) - 1, N = cu.back(), C = c.heads * kHS;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHS));
  const FlashShape s{B, N, C, scale, scale * kLog2e, c.dropout_p, 1.0f / (1.0f - c.dropout_p)};
  const dim3 grid{static_cast<unsigned>(N / kTileRows + B), static_cast<unsigned>(c.heads),
                          1};
  T16 *o = out.data(), *dq = dqkv.data();
  const T16 *x = qkv.data(), *dO = dout.data();
  std::vector<float> D(static_cast<size_t>(c.heads * N));
  emulator::launch(flash_forward_kernel<T16, kHS>, grid, kThreads, ForwardSmem<T16, kHS>::bytes, o,
                   lse.data(), x, cu.data(), s, key, &error_flag);
  emulator::launch(flash_backward_dot_kernel<T16>, dim3{2, 1, 1}, 64, 0, D.data(), dO,
                   static_cast<const T16*>(o), N, C, c.heads);
  const size_t smem = BackwardSmem<T16, kHS>::bytes;
  for (auto kernel : {flash_backward_dkv_kernel<T16, kHS>, flash_backward_dq_kernel<T16, kHS>})
    emulator::launch(kernel, grid, kThreads, smem, dq, static_cast<const float*>(D.data()), dO, x,
                     static_cast<const float*>(lse.data()), cu.data(), s, key, &error_flag);
}

template <typename T16, int kHS> void check_against_cpu(const EmulatedCase& c) {
  std::vector<int32_t> cu{0};
  for (const int32_t len : c.lengths) cu.push_back(cu.back() + len);
  const int64_t N = cu.back(), NH = c.heads, C = NH * kHS;
  const auto n3 = static_cast<size_t>(N * 3 * C), n1 = static_cast<size_t>(N * C);
  const RngKey key{
      .seed = 5, .step = 3, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT, .substream = 2};
  const auto qkv = random_values<T16>(n3, 1.5, 1), dout = random_values<T16>(n1, 1.0, 2);
  const auto dqkv0 = random_values<T16>(n3, 0.1, 3);  // the backward adds into it

  std::vector<T16> out(n1, from_float<T16>(NAN)), dqkv = dqkv0;
  std::vector<float> lse(static_cast<size_t>(NH * N), NAN);
  int error_flag = 0;
  run_kernels<T16, kHS>(c, cu, out, lse, dqkv, qkv, dout, key, error_flag);
  EXPECT_EQ(error_flag, 0);

  std::vector<double> x = widen(qkv), dO = widen(dout);
  std::vector<double> ref_out(n1), ref_lse(static_cast<size_t>(NH * N)), ref_dqkv = widen(dqkv0);
  const Tensor cu_t = i32(cu, {int64_t(cu.size())});
  Ctx cpu;
  attention_forward(cpu, f64(ref_out, {N, C}), f64(ref_lse, {NH, N}), f64(x, {N, 3 * C}), cu_t,
                    int(NH), c.dropout_p, key);
  attention_backward(cpu, f64(ref_dqkv, {N, 3 * C}), f64(dO, {N, C}), f64(ref_out, {N, C}),
                     f64(x, {N, 3 * C}), f64(ref_lse, {NH, N}), cu_t, int(NH), c.dropout_p, key);
  const double bound = bound_for<T16>();
  expect_close(widen(out), ref_out, bound, "out");
  expect_close(widen(lse), ref_lse, 1e-12, "lse");
  expect_close(widen(dqkv), ref_dqkv, bound, "dqkv (after +=)");
}

class FlashAttentionEmulated : public ::testing::TestWithParam<EmulatedCase> {};

TEST_P(FlashAttentionEmulated, MatchesTheCpuOpInFp64) {
  const EmulatedCase& c = GetParam();
  const auto run = [&]<typename T16>() {
    switch (c.head_size) {
      case 32: return check_against_cpu<T16, 32>(c);
      case 64: return check_against_cpu<T16, 64>(c);
      case 128: return check_against_cpu<T16, 128>(c);
      default: FAIL() << "no kernel for head size " << c.head_size;
    }
  };
  if (c.dtype == DType::BF16)
    run.template operator()<__nv_bfloat16>();
  else
    run.template operator()<__half>();
}

// Lengths 1, 63..65, 127 and 130 around the 64-row tiles and 32-row inner tiles, an empty
// sequence, several sequences whose tiles share no block, and dropout.
std::vector<EmulatedCase> cases() {
  return {
      {"bf16_hs64_mixed_lengths", DType::BF16, 64, 2, {1, 127, 1, 71}, 0.0f},
      {"f16_hs32_tile_edges", DType::F16, 32, 1, {65, 1, 63, 64}, 0.0f},
      {"bf16_hs128_one_sequence", DType::BF16, 128, 1, {70}, 0.0f},
      {"bf16_hs32_dropout_and_empty", DType::BF16, 32, 2, {100, 0, 70}, 0.2f},
      {"f16_hs128_dropout", DType::F16, 128, 1, {130}, 0.1f},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, FlashAttentionEmulated, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(FlashAttentionEmulatedErrors, BadCuSeqlensRaiseTheDeviceFlag) {
  const std::vector<int32_t> cu{0, 40, 20, 64};  // decreasing
  const int64_t N = 64, C = 32;
  const auto qkv = random_values<__nv_bfloat16>(static_cast<size_t>(N * 3 * C), 1.0, 4);
  std::vector<__nv_bfloat16> out(static_cast<size_t>(N * C));
  std::vector<float> lse(static_cast<size_t>(N));
  const FlashShape s{3, N, C, 1.0f, kLog2e, 0.0f, 1.0f};
  int error_flag = 0;
  emulator::launch(flash_forward_kernel<__nv_bfloat16, 32>, dim3{N / kTileRows + 3, 1, 1},
                   kThreads, ForwardSmem<__nv_bfloat16, 32>::bytes, out.data(), lse.data(),
                   qkv.data(), cu.data(), s, RngKey{}, &error_flag);
  EXPECT_EQ(error_flag, static_cast<int>(DeviceError::BAD_CU_SEQLENS));
}

}  // namespace
}  // namespace masklm::cuda
