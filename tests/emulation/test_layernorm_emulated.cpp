// The LayerNorm kernels (kernels/cuda/layernorm_kernels.cuh) and the column sums that
// finish their weight and bias gradients (column_sums_kernels.cuh; also the bias gradients
// of matmul and the MLM head), run under the CUDA emulation in the order layernorm.cu
// launches them, against the CPU ops in fp64: hidden sizes 59 and 771 (scalar loads only)
// and 72, 1000 and 1024 (also 16-byte packs: fewer packs than lanes, lanes with different
// trip counts, and 4 or 8 packs per lane), 1 and 70 rows (more than one 64-row chunk of
// the column sums), every storage type.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/column_sums_kernels.cuh"
#include "kernels/cuda/layernorm_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::bound_for;
using emulated_testing::expect_close;
using emulated_testing::f64;
using emulated_testing::for_each_width;
using emulated_testing::random_values;
using emulated_testing::widen;

constexpr float kEps = 1e-5f;
constexpr int kRowThreads = kRowsPerBlock * WARP_SIZE;

// dst (cols) += the column sums of the partials (chunks, cols), as add_partial_sums does.
void add_partials(std::vector<float>& dst, const std::vector<float>& partials, int64_t chunks,
                  int64_t cols) {
  emulator::launch(add_partial_sums_kernel, {static_cast<unsigned>(CEIL_DIV(cols, kThreads)), 1, 1},
                   kThreads, 0, dst.data(), partials.data(), chunks, cols);
}

class LayerNormEmulated : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(LayerNormEmulated, ForwardAndBackwardMatchTheCpuOpsInFp64) {
  const auto [N, C] = GetParam();
  emulated_testing::for_each_storage([&]<typename T>() {
    const auto n = static_cast<size_t>(N * C);
    const auto in = random_values<T>(n, 2.0, 1, 0.5), weight = random_values<T>(C, 1.0, 2, 1.0);
    const auto bias = random_values<T>(C, 0.5, 3), dout = random_values<T>(n, 1.0, 4);
    const auto din0 = random_values<T>(n, 0.5, 5);
    std::vector<T> out(n), din = din0;
    std::vector<float> mean(N), rstd(N);
    const auto run_rows = [&]<int W>() {
      out.assign(n, from_float<T>(NAN)), din = din0;
      emulator::launch(layernorm_forward_kernel<T, W>, {row_blocks(N), 1, 1}, kRowThreads, 0,
                       out.data(), mean.data(), rstd.data(), in.data(), weight.data(), bias.data(),
                       N, C, kEps);
      emulator::launch(layernorm_din_kernel<T, W>, {row_blocks(N), 1, 1}, kRowThreads, 0,
                       din.data(), dout.data(), in.data(), weight.data(),
                       static_cast<const float*>(mean.data()),
                       static_cast<const float*>(rstd.data()), N, C);
    };
    auto x = widen(in), w = widen(weight), b = widen(bias), dy = widen(dout);
    std::vector<double> ref_out(n), ref_mean(N), ref_rstd(N), ref_din = widen(din0);
    const auto dweight0 = random_values<float>(C, 0.5, 6), dbias0 = random_values<float>(C, 0.5, 7);
    auto ref_dw = widen(dweight0), ref_db = widen(dbias0);
    Ctx cpu;
    layernorm_forward(cpu, f64(ref_out, {N, C}), f64(ref_mean, {N}), f64(ref_rstd, {N}),
                      f64(x, {N, C}), f64(w, {C}), f64(b, {C}), kEps);
    layernorm_backward(cpu, f64(ref_din, {N, C}), f64(ref_dw, {C}), f64(ref_db, {C}),
                       f64(dy, {N, C}), f64(x, {N, C}), f64(w, {C}), f64(ref_mean, {N}),
                       f64(ref_rstd, {N}));
    const double bound = bound_for<T>();
    for_each_width<T>(C, [&]<int W>() {
      run_rows.template operator()<W>();
      expect_close(widen(out), ref_out, bound, "out");
      expect_close(widen(mean), ref_mean, 1e-12, "mean");
      expect_close(widen(rstd), ref_rstd, 1e-12, "rstd");
      expect_close(widen(din), ref_din, bound, "din (after +=)");
    });

    const int64_t chunks = column_sum_chunks(N);
    std::vector<float> dw_partials(static_cast<size_t>(chunks * C)),
        db_partials(dw_partials.size());
    emulator::launch(
        layernorm_param_partials_kernel<T>,
        {static_cast<unsigned>(CEIL_DIV(C, kColumnThreads)), static_cast<unsigned>(chunks), 1},
        kColumnThreads, 0, dw_partials.data(), db_partials.data(), dout.data(), in.data(),
        static_cast<const float*>(mean.data()), static_cast<const float*>(rstd.data()), N, C);
    std::vector<float> dweight = dweight0, dbias = dbias0;
    add_partials(dweight, dw_partials, chunks, C);
    add_partials(dbias, db_partials, chunks, C);
    // fp32 sums of 16-bit products: the 16-bit rounding happened in the inputs, shared by both.
    expect_close(widen(dweight), ref_dw, 1e-10, "dweight (after +=)");
    expect_close(widen(dbias), ref_db, 1e-10, "dbias (after +=)");
  });
}

TEST_P(LayerNormEmulated, ResidualForwardIsTheSumThenLayerNorm) {
  const auto [N, C] = GetParam();
  emulated_testing::for_each_storage([&]<typename T>() {
    const auto n = static_cast<size_t>(N * C);
    const auto a = random_values<T>(n, 1.0, 8), b = random_values<T>(n, 1.0, 9, 0.3);
    const auto weight = random_values<T>(C, 1.0, 10, 1.0), bias = random_values<T>(C, 0.5, 11);
    std::vector<T> separate_sum(n);
    // The unfused path: the sum rounded to T on the host as residual_forward rounds it, then
    // the plain forward kernel. The fused kernel must give the same bits.
    for (size_t i = 0; i < n; ++i) separate_sum[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
    for_each_width<T>(C, [&]<int W>() {
      std::vector<T> sum(n), out(n), separate_out(n);
      std::vector<float> mean(N), rstd(N), separate_mean(N), separate_rstd(N);
      emulator::launch(residual_layernorm_forward_kernel<T, W>, {row_blocks(N), 1, 1}, kRowThreads,
                       0, sum.data(), out.data(), mean.data(), rstd.data(), a.data(), b.data(),
                       weight.data(), bias.data(), N, C, kEps);
      emulator::launch(layernorm_forward_kernel<T, W>, {row_blocks(N), 1, 1}, kRowThreads, 0,
                       separate_out.data(), separate_mean.data(), separate_rstd.data(),
                       static_cast<const T*>(separate_sum.data()), weight.data(), bias.data(), N, C,
                       kEps);
      EXPECT_EQ(widen(sum), widen(separate_sum));
      EXPECT_EQ(widen(out), widen(separate_out));
      EXPECT_EQ(mean, separate_mean);
      EXPECT_EQ(rstd, separate_rstd);
      // In place (sum = a, which ops.h allows): each lane reads a column before writing it.
      std::vector<T> in_place = a, in_place_out(n);
      emulator::launch(residual_layernorm_forward_kernel<T, W>, {row_blocks(N), 1, 1}, kRowThreads,
                       0, in_place.data(), in_place_out.data(), mean.data(), rstd.data(),
                       static_cast<const T*>(in_place.data()), b.data(), weight.data(), bias.data(),
                       N, C, kEps);
      EXPECT_EQ(widen(in_place), widen(separate_sum));
      EXPECT_EQ(widen(in_place_out), widen(separate_out));
    });
  });
}

// Stage 1 over 130 rows (three chunks, the last partial) of a matrix with ld > cols, then
// stage 2 adding into dst: the column sums of the matrix, in fp32.
TEST(ColumnSumsEmulated, AddTheColumnSumsOfAStridedMatrix) {
  const int64_t rows = 130, cols = 59, ld = 64, chunks = column_sum_chunks(rows);
  emulated_testing::for_each_storage([&]<typename T>() {
    const auto src = random_values<T>(rows * ld, 1.0, 12, 0.1);
    const auto dst0 = random_values<float>(cols, 1.0, 13);
    std::vector<float> partials(static_cast<size_t>(chunks * cols), NAN), dst = dst0;
    emulator::launch(
        chunk_column_sums_kernel<T>,
        {static_cast<unsigned>(CEIL_DIV(cols, kThreads)), static_cast<unsigned>(chunks), 1},
        kThreads, 0, partials.data(), src.data(), rows, cols, ld);
    add_partials(dst, partials, chunks, cols);
    std::vector<double> expected = widen(dst0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) expected[c] += to_float(src[r * ld + c]);
    expect_close(widen(dst), expected, bound_for<float>(), "dst (after +=)");
  });
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormEmulated,
                         ::testing::Combine(::testing::Values(1, 70),
                                            ::testing::Values(59, 72, 771, 1000, 1024)),
                         [](const auto& info) {
                           return fmt::format("N{}_C{}", std::get<0>(info.param),
                                              std::get<1>(info.param));
                         });

}  // namespace
}  // namespace masklm::cuda
