// The padded-layout copies (kernels/cuda/padded_layout_kernels.cuh, used around cuDNN's
// SDPA) under the CUDA emulation, against copies written here on the host from the layout's
// definition (kernels/cuda/padded_layout.cuh): rows and statistics both ways, zeros past
// each sequence's end, and += on the way back.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/padded_layout_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::for_each_storage;
using emulated_testing::random_values;
using emulated_testing::widen;

// Sequences of 3, 0, 5 and 1 tokens padded to 10; W wider than the 128 threads of a row copy.
const std::vector<int32_t> kCu{0, 3, 3, 8, 9};
constexpr int64_t kB = 4, kS = 10, kN = 9, kW = 130, kNH = 3;

TEST(PaddedLayoutEmulated, RowsGoToThePaddedLayoutAndBack) {
  for_each_storage([&]<typename T>() {
    const auto src = random_values<T>(kN * kW, 1.0, 1), dst0 = random_values<T>(kN * kW, 1.0, 2);
    std::vector<T> padded(kB * kS * kW, from_float<T>(NAN)), copied(kN * kW, from_float<T>(NAN)),
        added = dst0;
    const dim3 grid{static_cast<unsigned>(kB * kS), 1, 1};
    emulator::launch(pad_rows_kernel<T>, grid, kRowThreads, 0, padded.data(), src.data(),
                     kCu.data(), kS, kW);
    emulator::launch(unpad_rows_kernel<T>, grid, kRowThreads, 0, copied.data(),
                     static_cast<const T*>(padded.data()), kCu.data(), kS, kW, false);
    emulator::launch(unpad_rows_kernel<T>, grid, kRowThreads, 0, added.data(),
                     static_cast<const T*>(padded.data()), kCu.data(), kS, kW, true);
    std::vector<double> expected_padded(padded.size(), 0.0), expected_added = widen(dst0);
    const std::vector<double> source = widen(src);
    for (int64_t b = 0; b < kB; ++b)
      for (int64_t s = 0; s < kCu[b + 1] - kCu[b]; ++s)
        for (int64_t w = 0; w < kW; ++w) {
          const int64_t token = kCu[b] + s;
          expected_padded[(b * kS + s) * kW + w] = source[token * kW + w];
          expected_added[token * kW + w] = to_float(from_float<T>(
              to_float(dst0[token * kW + w]) + static_cast<float>(source[token * kW + w])));
        }
    EXPECT_EQ(widen(padded), expected_padded);
    EXPECT_EQ(widen(copied), source);
    EXPECT_EQ(widen(added), expected_added);
  });
}

TEST(PaddedLayoutEmulated, StatisticsGoToThePaddedLayoutAndBack) {
  const auto lse = random_values<float>(kNH * kN, 1.0, 3);
  std::vector<float> stats(kB * kNH * kS, NAN), back(kNH * kN, NAN);
  const dim3 grid{1, 1, 1};  // one warp for 40 padded rows: the loop goes round
  emulator::launch(move_lse_kernel<true>, grid, WARP_SIZE, 0, stats.data(), lse.data(), kCu.data(),
                   kB, kS, kNH, kN);
  emulator::launch(move_lse_kernel<false>, grid, WARP_SIZE, 0, back.data(),
                   static_cast<const float*>(stats.data()), kCu.data(), kB, kS, kNH, kN);
  std::vector<float> expected(stats.size(), 0.0f);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t h = 0; h < kNH; ++h)
      for (int64_t s = 0; s < kCu[b + 1] - kCu[b]; ++s)
        expected[(b * kNH + h) * kS + s] = lse[h * kN + kCu[b] + s];
  EXPECT_EQ(stats, expected);
  EXPECT_EQ(back, lse);
}

}  // namespace
}  // namespace masklm::cuda
