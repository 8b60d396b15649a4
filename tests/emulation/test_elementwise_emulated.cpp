// The elementwise kernels (kernels/cuda/elementwise_kernels.cuh) under the CUDA emulation
// on 1027 values (not a multiple of dropout's 4-value Philox blocks, nor of a 16-byte pack)
// and 1024 (scalar and packed), with fewer threads than values, so every grid-stride loop
// goes round: GELU against the CPU op in fp64; residual, add_inplace, scale, dropout and
// convert bit for bit against the CPU op on the same dtype, which computes the same fp32
// values and rounds them once (kernels/f32_views.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/elementwise_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::bound_for;
using emulated_testing::cpu_tensor;
using emulated_testing::expect_close;
using emulated_testing::f64;
using emulated_testing::for_each_storage;
using emulated_testing::for_each_width;
using emulated_testing::random_values;
using emulated_testing::widen;

constexpr int64_t kN = 1027;
constexpr dim3 kGrid{2, 1, 1};  // 512 threads for 1027 values
constexpr int kDropoutThreads = 64;     // one block for dropout's 256-257 Philox blocks
constexpr int kFlatThreads = 64;        // one block: every grid-stride loop goes round

template <typename T> std::vector<uint16_t> bits_of(const std::vector<T>& v) {
  std::vector<uint16_t> out;
  for (const T& x : v) out.push_back(x.bits);
  return out;
}
// Bitwise equality of float or 16-bit vectors (NaN-safe, unlike ==).
template <typename T> void expect_same_bits(const std::vector<T>& got, const std::vector<T>& ref) {
  if constexpr (std::is_same_v<T, float>) {
    std::vector<uint32_t> g(got.size()), r(ref.size());
    std::memcpy(g.data(), got.data(), got.size() * sizeof(float));
    std::memcpy(r.data(), ref.data(), ref.size() * sizeof(float));
    EXPECT_EQ(g, r);
  } else {
    EXPECT_EQ(bits_of(got), bits_of(ref));
  }
}

// 1027 values take scalar loads only, 1024 also 16-byte packs (for_each_width).
class FlatEmulated : public ::testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(Sizes, FlatEmulated, ::testing::Values(1027, 1024));

TEST_P(FlatEmulated, GeluForwardAndBackwardMatchTheCpuOpsInFp64) {
  const int64_t n = GetParam();
  for_each_storage([&]<typename T>() {
    const auto in = random_values<T>(n, 2.0, 1), dout = random_values<T>(n, 1.0, 2);
    const auto din0 = random_values<T>(n, 0.5, 3);
    auto x = widen(in), dy = widen(dout);
    std::vector<double> ref_out(n), ref_din = widen(din0);
    Ctx cpu;
    gelu_forward(cpu, f64(ref_out, {n}), f64(x, {n}));
    gelu_backward(cpu, f64(ref_din, {n}), f64(dy, {n}), f64(x, {n}));
    for_each_width<T>(n, [&]<int W>() {
      std::vector<T> out(n), din = din0;
      emulator::launch(gelu_forward_kernel<T, W>, {1, 1, 1}, kFlatThreads, 0, out.data(), in.data(),
                       n);
      emulator::launch(gelu_backward_kernel<T, W>, {1, 1, 1}, kFlatThreads, 0, din.data(),
                       dout.data(), in.data(), n);
      expect_close(widen(out), ref_out, bound_for<T>(), "out");
      expect_close(widen(din), ref_din, bound_for<T>(), "din (after +=)");
    });
  });
}

TEST_P(FlatEmulated, SumsAndScalingMatchTheCpuOpsBitwise) {
  const int64_t n = GetParam();
  for_each_storage([&]<typename T>() {
    const auto a = random_values<T>(n, 1.0, 4), b = random_values<T>(n, 1.0, 5);
    std::vector<T> x = a, y = b, ref_out(n), ref_dst = a, ref_scaled = a;
    Ctx cpu;
    residual_forward(cpu, cpu_tensor(ref_out, {n}), cpu_tensor(x, {n}), cpu_tensor(y, {n}));
    add_inplace(cpu, cpu_tensor(ref_dst, {n}), cpu_tensor(y, {n}));
    scale_inplace(cpu, cpu_tensor(ref_scaled, {n}), 0.37f);
    for_each_width<T>(n, [&]<int W>() {
      std::vector<T> out(n), dst = a, scaled = a;
      emulator::launch(residual_forward_kernel<T, W>, {1, 1, 1}, kFlatThreads, 0, out.data(),
                       a.data(), b.data(), n);
      emulator::launch(residual_forward_kernel<T, W>, {1, 1, 1}, kFlatThreads, 0, dst.data(),
                       static_cast<const T*>(dst.data()), b.data(), n);  // add_inplace
      emulator::launch(scale_kernel<T, W>, {1, 1, 1}, kFlatThreads, 0, scaled.data(), 0.37f, n);
      expect_same_bits(out, ref_out);
      expect_same_bits(dst, ref_dst);
      expect_same_bits(scaled, ref_scaled);
    });
  });
}

// Value by value, and (n = 1024) as one pack per Philox block; a -0 input stays -0 where kept.
TEST_P(FlatEmulated, DropoutDrawsTheCpuMaskAndScale) {
  const int64_t n = GetParam();
  const RngKey key{
      .seed = 11, .step = 2, .rank = 1, .stream = RngStream::HIDDEN_DROPOUT, .substream = 3};
  for_each_storage([&]<typename T>() {
    for (const float p : {0.1f, 0.5f}) {
      auto in = random_values<T>(n, 1.0, 6);
      in[0] = in[1] = from_float<T>(-0.0f);
      const auto dout = random_values<T>(n, 1.0, 7), din0 = random_values<T>(n, 1.0, 8);
      std::vector<T> x = in, dy = dout, ref_out(n), ref_din = din0;
      Ctx cpu;
      dropout_forward(cpu, cpu_tensor(ref_out, {n}), cpu_tensor(x, {n}), p, key);
      dropout_backward(cpu, cpu_tensor(ref_din, {n}), cpu_tensor(dy, {n}), p, key);
      const float scale = dropout_keep_scale(p);
      const auto run = [&]<bool PACKED>() {
        std::vector<T> out(n), din = din0;
        emulator::launch(dropout_kernel<T, false, PACKED>, {1, 1, 1}, kDropoutThreads, 0,
                         out.data(), in.data(), n, p, scale, key);
        emulator::launch(dropout_kernel<T, true, PACKED>, {1, 1, 1}, kDropoutThreads, 0, din.data(),
                         dout.data(), n, p, scale, key);
        expect_same_bits(out, ref_out);
        expect_same_bits(din, ref_din);
      };
      run.template operator()<false>();
      EXPECT_EQ(dropout_packs_fit(n, ref_out.data(), in.data()), n % 4 == 0);
      if (n % 4 == 0) run.template operator()<true>();
    }
  });
}

// convert's kernel runs between F32 and a 16-bit type (a dtype to itself is a copy).
TEST(ElementwiseEmulated, ConvertMatchesTheCpuOpBitwise) {
  for_each_storage([&]<typename Dst>() {
    for_each_storage([&]<typename Src>() {
      if constexpr (std::is_same_v<Dst, Src> ||
                    !(std::is_same_v<Dst, float> || std::is_same_v<Src, float>))
        return;
      const auto src = random_values<Src>(kN, 100.0, 9);
      std::vector<Dst> dst(kN);
      emulator::launch(convert_kernel<Dst, Src>, kGrid, kThreads, 0, dst.data(), src.data(), kN);
      std::vector<Src> x = src;
      std::vector<Dst> ref(kN);
      Ctx cpu;
      convert(cpu, cpu_tensor(ref, {kN}), cpu_tensor(x, {kN}));
      expect_same_bits(dst, ref);
    });
  });
}

}  // namespace
}  // namespace masklm::cuda
