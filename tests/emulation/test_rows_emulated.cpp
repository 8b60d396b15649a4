// The row kernels (kernels/cuda/rows_kernels.cuh) under the CUDA emulation: gather_rows,
// and scatter_add_rows as rows.cu runs it (iota, CUB's stable radix sort, done here by
// std::stable_sort, then one block per run of equal indices), bit for bit against the CPU
// ops, which add each destination's rows in the same order. Hidden sizes 59 and 771 (one and
// seven column tiles), a hot index that makes a long run, and indices out of range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/rows_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::cpu_tensor;
using emulated_testing::for_each_storage;
using emulated_testing::random_values;
using emulated_testing::widen;

dim3 row_grid(int64_t P, int64_t C) {
  return {static_cast<unsigned>(P), static_cast<unsigned>(CEIL_DIV(C, kThreads)), 1};
}

// P indices into N rows, a third of them `hot`.
std::vector<int32_t> picks(int64_t P, int64_t N, uint32_t seed, int32_t hot) {
  std::mt19937 rng(seed);
  std::vector<int32_t> index(P);
  for (auto& i : index) i = rng() % 3 == 0 ? hot : static_cast<int32_t>(rng() % N);
  return index;
}

// scatter_add_rows's launches, with the sort on the host.
template <typename DstT, typename SrcT>
void scatter_add(std::vector<DstT>& dst, const std::vector<SrcT>& src,
                 const std::vector<int32_t>& index, int64_t C, int64_t N, int& error_flag) {
  const auto P = static_cast<int64_t>(index.size());
  std::vector<int32_t> rows_in(P, -1);
  emulator::launch(iota_kernel, {grid_stride_blocks(P, 256), 1, 1}, 256, 0, rows_in.data(), P);
  std::vector<int32_t> order = rows_in, sorted_index(P);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return index[a] < index[b]; });
  for (int64_t t = 0; t < P; ++t) sorted_index[t] = index[order[t]];
  emulator::launch(scatter_add_runs_kernel<DstT, SrcT>, row_grid(P, C), kThreads, 0, dst.data(),
                   src.data(), static_cast<const int32_t*>(sorted_index.data()),
                   static_cast<const int32_t*>(order.data()), P, C, N, &error_flag);
  std::vector<int32_t> identity(P);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(rows_in, identity) << "iota";
}

class RowsEmulated : public ::testing::TestWithParam<int64_t> {};

TEST_P(RowsEmulated, GatherAndScatterAddMatchTheCpuOpsBitwise) {
  const int64_t C = GetParam(), N = 23, P = 41;
  const auto index = picks(P, N, 1, 4);
  for_each_storage([&]<typename T>() {
    const auto in = random_values<T>(N * C, 1.0, 2), src = random_values<T>(P * C, 1.0, 3);
    const auto dst0 = random_values<T>(N * C, 1.0, 4);
    std::vector<T> gathered(P * C), dst = dst0;
    int error_flag = 0;
    emulator::launch(gather_rows_kernel<T>, row_grid(P, C), kThreads, 0, gathered.data(), in.data(),
                     index.data(), C, N, &error_flag);
    scatter_add(dst, src, index, C, N, error_flag);
    EXPECT_EQ(error_flag, 0);

    std::vector<T> x = in, s = src, ref_gathered(P * C);
    std::vector<int32_t> idx = index;
    std::vector<T> ref_dst = dst0;
    Ctx cpu;
    gather_rows(cpu, cpu_tensor(ref_gathered, {P, C}), cpu_tensor(x, {N, C}), cpu_tensor(idx, {P}));
    scatter_add_rows(cpu, cpu_tensor(ref_dst, {N, C}), cpu_tensor(s, {P, C}), cpu_tensor(idx, {P}));
    EXPECT_EQ(widen(gathered), widen(ref_gathered));
    EXPECT_EQ(widen(dst), widen(ref_dst));

    // 16-bit rows into fp32 rows (the embedding gradients): the CPU op in F32 on the widened
    // rows adds the same fp32 values in the same order.
    std::vector<float> wide_dst(dst0.size()), wide_src(src.size());
    for (size_t i = 0; i < dst0.size(); ++i) wide_dst[i] = to_float(dst0[i]);
    for (size_t i = 0; i < src.size(); ++i) wide_src[i] = to_float(src[i]);
    std::vector<float> ref_wide_dst = wide_dst;
    scatter_add(wide_dst, src, index, C, N, error_flag);
    scatter_add_rows(cpu, cpu_tensor(ref_wide_dst, {N, C}), cpu_tensor(wide_src, {P, C}),
                     cpu_tensor(idx, {P}));
    EXPECT_EQ(wide_dst, ref_wide_dst);
    EXPECT_EQ(error_flag, 0);
  });
}

INSTANTIATE_TEST_SUITE_P(HiddenSizes, RowsEmulated, ::testing::Values(59, 771));

TEST(RowsEmulatedErrors, IndicesOutOfRangeRaiseTheDeviceFlagAndWriteNothingOutside) {
  const int64_t C = 5, N = 4;
  const std::vector<int32_t> index{1, -1, 4, 1};
  const auto in = random_values<float>(N * C, 1.0, 5);
  std::vector<float> gathered(index.size() * C, NAN);
  int gather_flag = 0, scatter_flag = 0;
  emulator::launch(gather_rows_kernel<float>, row_grid(4, C), kThreads, 0, gathered.data(),
                   in.data(), index.data(), C, N, &gather_flag);
  EXPECT_EQ(gather_flag, static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE));
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_EQ(gathered[1 * C + c], 0.0f);
    EXPECT_EQ(gathered[2 * C + c], 0.0f);
    EXPECT_EQ(gathered[3 * C + c], in[1 * C + c]);
  }
  std::vector<float> dst(N * C, 0.0f);
  scatter_add(dst, std::vector<float>(index.size() * C, 1.0f), index, C, N, scatter_flag);
  EXPECT_EQ(scatter_flag, static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE));
  for (int64_t c = 0; c < C; ++c) EXPECT_EQ(dst[1 * C + c], 2.0f);  // the valid run still adds
}

}  // namespace
}  // namespace masklm::cuda
