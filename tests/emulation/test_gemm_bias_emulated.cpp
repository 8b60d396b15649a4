// The bias kernel of kernels/cuda/gemm_kernels.cuh (run when cuBLASLt has no BIAS epilogue
// for a shape, before the GEMM adds its product) under the CUDA emulation: c[i, j] =
// bias[j] on a matrix with ldc > n, leaving the columns past n alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/gemm_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::for_each_storage;
using emulated_testing::random_values;
using emulated_testing::widen;

TEST(GemmBiasEmulated, CopiesTheBiasIntoEveryRowOfAStridedMatrix) {
  const int64_t m = 7, n = 45, ldc = 48;
  for_each_storage([&]<typename T>() {
    const auto c0 = random_values<T>(m * ldc, 1.0, 1), bias = random_values<T>(n, 1.0, 2);
    std::vector<T> c = c0;
    emulator::launch(broadcast_bias_kernel<T>, {1, 1, 1}, kThreads, 0, c.data(), ldc, bias.data(),
                     m, n);
    std::vector<double> expected = widen(c0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) expected[i * ldc + j] = to_float(bias[j]);
    EXPECT_EQ(widen(c), expected);
  });
}

}  // namespace
}  // namespace masklm::cuda
