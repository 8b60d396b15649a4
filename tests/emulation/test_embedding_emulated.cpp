// The embedding forward kernel (kernels/cuda/embedding_kernels.cuh) under the CUDA
// emulation, bit for bit against the CPU op (both add (token + position) + type in fp32
// and round once), with and without token types, and ids out of range. Its backward is
// scatter_add_rows (test_rows_emulated.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/embedding_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::cpu_tensor;
using emulated_testing::for_each_storage;
using emulated_testing::random_values;
using emulated_testing::widen;

constexpr int64_t kV = 50, kPositions = 40, kTypes = 2;

dim3 token_grid(int64_t N, int64_t C) {
  return {static_cast<unsigned>(N), static_cast<unsigned>(CEIL_DIV(C, kThreads)), 1};
}

class EmbeddingEmulated : public ::testing::TestWithParam<int64_t> {};

TEST_P(EmbeddingEmulated, ForwardMatchesTheCpuOpBitwise) {
  const int64_t C = GetParam(), N = 13;
  std::vector<int32_t> tokens(N), positions(N), types(N);
  for (int64_t n = 0; n < N; ++n)
    tokens[n] = static_cast<int32_t>((n * 17) % kV), positions[n] = static_cast<int32_t>(n + 20),
    types[n] = static_cast<int32_t>(n % kTypes);
  for_each_storage([&]<typename T>() {
    auto wte = random_values<T>(kV * C, 1.0, 1), wpe = random_values<T>(kPositions * C, 1.0, 2);
    auto wtt = random_values<T>(kTypes * C, 1.0, 3);
    for (const bool with_types : {true, false}) {
      std::vector<T> out(N * C), ref(N * C);
      int error_flag = 0;
      emulator::launch(embedding_forward_kernel<T>, token_grid(N, C), kThreads, 0, out.data(),
                       static_cast<const int32_t*>(tokens.data()),
                       static_cast<const int32_t*>(positions.data()),
                       with_types ? static_cast<const int32_t*>(types.data()) : nullptr,
                       static_cast<const T*>(wte.data()), static_cast<const T*>(wpe.data()),
                       static_cast<const T*>(wtt.data()), C, kV, kPositions, kTypes, &error_flag);
      EXPECT_EQ(error_flag, 0);
      Ctx cpu;
      embedding_forward(cpu, cpu_tensor(ref, {N, C}), cpu_tensor(tokens, {N}),
                        cpu_tensor(positions, {N}), with_types ? cpu_tensor(types, {N}) : Tensor{},
                        cpu_tensor(wte, {kV, C}), cpu_tensor(wpe, {kPositions, C}),
                        with_types ? cpu_tensor(wtt, {kTypes, C}) : Tensor{});
      EXPECT_EQ(widen(out), widen(ref)) << (with_types ? "with types" : "without types");
    }
  });
}

INSTANTIATE_TEST_SUITE_P(HiddenSizes, EmbeddingEmulated, ::testing::Values(59, 771));

TEST(EmbeddingEmulatedErrors, IdsOutOfRangeRaiseTheDeviceFlagAndWriteZeros) {
  const int64_t C = 3, N = 3;
  const std::vector<int32_t> tokens{1, kV, 2}, positions{0, 1, kPositions}, types{0, 1, 0};
  const auto wte = random_values<float>(kV * C, 1.0, 4),
             wpe = random_values<float>(kPositions * C, 1.0, 5);
  const auto wtt = random_values<float>(kTypes * C, 1.0, 6);
  std::vector<float> out(N * C, NAN);
  int error_flag = 0;
  emulator::launch(embedding_forward_kernel<float>, token_grid(N, C), kThreads, 0, out.data(),
                   tokens.data(), positions.data(), types.data(), wte.data(), wpe.data(),
                   wtt.data(), C, kV, kPositions, kTypes, &error_flag);
  EXPECT_EQ(error_flag, static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE));
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_EQ(out[c], wte[1 * C + c] + wpe[c] + wtt[c]);
    EXPECT_EQ(out[C + c], 0.0f);
    EXPECT_EQ(out[2 * C + c], 0.0f);
  }
}

}  // namespace
}  // namespace masklm::cuda
