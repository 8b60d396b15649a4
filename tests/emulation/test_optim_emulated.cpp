// AdamW and the two-stage sum of squares (kernels/cuda/optim_kernels.cuh) under the CUDA
// emulation, launched as optim.cu launches them, against the CPU ops: the update in fp32
// and its rounded compute copy, the sum in double through block_sum's static shared array
// and a 1024-thread block.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/optim_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::random_values;

// Fewer blocks than optim.cu launches, so the grid-stride loop goes round several times.
constexpr unsigned kStrideBlocks = 3;

TEST(AdamWEmulated, MatchesTheCpuOpAndWritesTheRoundedCopy) {
  const int64_t n = 5000;
  const AdamWStep step{.lr = 3e-3,
                       .beta1 = 0.9,
                       .beta2 = 0.98,
                       .eps = 1e-6,
                       .weight_decay = 0.01,
                       .step = 7,
                       .grad_scale = 0.5};
  const auto params0 = random_values<float>(n, 1.0, 1), grads = random_values<float>(n, 1.0, 2);
  const auto m0 = random_values<float>(n, 0.1, 3);
  auto v0 = random_values<float>(n, 0.1, 4);
  for (auto& x : v0) x *= x;  // second moments are not negative
  const AdamWConstants k = adamw_constants(step.lr, step.beta1, step.beta2, step.eps,
                                           step.weight_decay, step.step, step.grad_scale);

  std::vector<float> ref_params = params0, ref_m = m0, ref_v = v0, ref_grads = grads;
  Ctx cpu;
  adamw_update(cpu, host_tensor(ref_params), host_tensor(ref_grads), host_tensor(ref_m),
               host_tensor(ref_v), step);
  // Both widths: scalar, and packs of 4 (5000 values fit them).
  const auto run = [&]<typename CopyT>(std::vector<float>& params, CopyT* copy) {
    EXPECT_TRUE(
        adamw_packs_fit<CopyT>(n, params0.data(), grads.data(), m0.data(), v0.data(), copy));
    emulated_testing::for_each_width<float>(n, [&]<int W>() {
      std::vector<float> m = m0, v = v0;
      params = params0;
      emulator::launch(adamw_kernel<CopyT, W>, {kStrideBlocks, 1, 1}, kThreads, 0, params.data(),
                       grads.data(), m.data(), v.data(), copy, k, n);
      // The same fp32 operations in the same order as the CPU's kernel.
      EXPECT_EQ(params, ref_params);
      EXPECT_EQ(m, ref_m);
      EXPECT_EQ(v, ref_v);
    });
  };
  std::vector<float> params;
  run(params, static_cast<void*>(nullptr));
  std::vector<__nv_bfloat16> bf16_copy(n);
  run(params, bf16_copy.data());
  std::vector<__half> f16_copy(n);
  run(params, f16_copy.data());
  // Packs need n a multiple of 4 and aligned buffers (a 16-bit copy: 8 bytes).
  EXPECT_FALSE(
      adamw_packs_fit<void>(n - 1, params.data(), grads.data(), m0.data(), v0.data(), nullptr));
  EXPECT_FALSE(adamw_packs_fit<void>(n - 4, params.data() + 1, grads.data() + 1, m0.data() + 1,
                                     v0.data() + 1, nullptr));
  EXPECT_FALSE(adamw_packs_fit<__half>(n - 4, params.data(), grads.data(), m0.data(), v0.data(),
                                       f16_copy.data() + 2));
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(bf16_copy[i].bits, float_to_bf16(params[i])) << i;
    ASSERT_EQ(f16_copy[i].bits, float_to_f16(params[i])) << i;
  }
}

// Sizes below one chunk, at a chunk's end and a value past it, and over many chunks.
class SumSquaresEmulated : public ::testing::TestWithParam<int64_t> {};

TEST_P(SumSquaresEmulated, MatchesTheCpuOpInDouble) {
  const int64_t n = GetParam();
  const auto x = random_values<float>(n, 1.0, 5, 0.2);
  const int64_t chunks = CEIL_DIV(n, kSquaresChunk);
  std::vector<double> partials(chunks, NAN), total(1, NAN);
  emulator::launch(chunk_squares_kernel, {static_cast<unsigned>(chunks), 1, 1}, kThreads, 0,
                   partials.data(), x.data(), n);
  emulator::launch(sum_partials_kernel, {1, 1, 1}, 1024, 0, total.data(),
                   static_cast<const double*>(partials.data()), chunks);
  Ctx cpu;
  std::vector<float> values = x;
  const double expected = sum_squares(cpu, host_tensor(values));
  EXPECT_GT(expected, 0.0);
  EXPECT_NEAR(total[0], expected, 1e-12 * expected);  // both in double, in different orders
}

// The second stage with more partials than threads, so its loop goes round, at the
// launcher's 1024 threads and at one warp.
TEST(SumSquaresEmulated, TheSecondStageAddsMorePartialsThanThreads) {
  std::vector<double> partials;
  double expected = 0.0;
  for (const float p : random_values<float>(2500, 1.0, 6, 3.0))
    partials.push_back(p), expected += p;
  for (const int threads : {1024, 32}) {
    std::vector<double> total(1, NAN);
    emulator::launch(sum_partials_kernel, {1, 1, 1}, threads, 0, total.data(), partials.data(),
                     static_cast<int64_t>(partials.size()));
    EXPECT_NEAR(total[0], expected, 1e-12 * std::abs(expected)) << threads << " threads";
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, SumSquaresEmulated,
                         ::testing::Values(1, 771, kSquaresChunk, kSquaresChunk + 1,
                                           5 * kSquaresChunk + 3));

}  // namespace
}  // namespace masklm::cuda
