// GPU AdamW and sum_squares against the CPU on odd sizes; sum_squares must also be bitwise
// reproducible from call to call. AdamW's 16-bit compute copy is the updated fp32 master
// weights rounded once; fp16 loss scaling skips a step whose gradients hold an inf or a nan
// and halves the scale. upload() queues its copies behind the work before them and frees
// their sources at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gpu/op_harness.cuh"
#include "gradcheck.h"
#include "train/loss_scaler.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_bitwise_equal;
using gpu_testing::expect_close;
using gpu_testing::for_each_16bit;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
using gpu_testing::to_storage;
using testing::random_vector;

class FlatGpu : public ::testing::TestWithParam<int64_t> {};
INSTANTIATE_TEST_SUITE_P(Sizes, FlatGpu, ::testing::Values(1, 771, 16385, 3'000'017));

TEST_P(FlatGpu, AdamWMatchesCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  const auto params0 = random_vector<float>(n, 1), m0 = random_vector<float>(n, 3, -0.1, 0.1);
  const auto v0 = random_vector<float>(n, 4, 0, 0.01);
  auto grads = random_vector<float>(n, 2);
  for (const int64_t step : {1, 7}) {
    const AdamWStep s{.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01, .step = step,
                      .grad_scale = 0.5};
    std::vector<float> params = params0, m = m0, v = v0;
    Ctx cpu = cpu_ctx();
    adamw_update(cpu, host_tensor(params), host_tensor(grads), host_tensor(m), host_tensor(v), s);
    GpuOps g;
    const Tensor d_params = g.up(params0), d_m = g.up(m0), d_v = g.up(v0);
    adamw_update(g.ctx, d_params, g.up(grads), d_m, d_v, s);
    const double bound = nmse_bound(DType::F32);
    expect_close(g.down<float>(d_params), params, bound, "params");
    expect_close(g.down<float>(d_m), m, bound, "m");
    expect_close(g.down<float>(d_v), v, bound, "v");
    g.expect_guards_intact();
  }
}

TEST_P(FlatGpu, SumSquaresMatchesCpuAndIsReproducible) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  auto x = random_vector<float>(n, 5, -3, 3);
  Ctx cpu = cpu_ctx();
  const double expected = sum_squares(cpu, host_tensor(x));
  GpuOps g;
  const Tensor d_x = g.up(x);
  const double first = sum_squares(g.ctx, d_x), second = sum_squares(g.ctx, d_x);
  EXPECT_GT(expected, 0.0);
  EXPECT_NEAR(first, expected, 1e-10 * expected);  // both accumulate in double, in different orders
  EXPECT_EQ(first, second);
  g.expect_guards_intact();
}

// The copy must be the new master weights rounded once: compared bit for bit with the
// host's rounding of the GPU's own fp32 result, so AdamW's fp32 error does not hide a
// copy written from the old weights or rounded twice.
TEST_P(FlatGpu, AdamWWritesTheRoundedMasterWeightsToTheComputeCopy) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = GetParam();
  const auto params0 = random_vector<float>(n, 1);
  auto grads = random_vector<float>(n, 2);
  const auto m0 = random_vector<float>(n, 3, -0.1, 0.1), v0 = random_vector<float>(n, 4, 0, 0.01);
  const AdamWStep s{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01, .step = 3};
  std::vector<float> params = params0, m = m0, v = v0;
  Ctx cpu = cpu_ctx();
  adamw_update(cpu, host_tensor(params), host_tensor(grads), host_tensor(m), host_tensor(v), s);
  for_each_16bit([&]<typename T16>() {
    GpuOps g;
    const Tensor d_params = g.up(params0), d_copy = g.output<T16>({n});
    adamw_update(g.ctx, d_params, g.up(grads), g.up(m0), g.up(v0), s, d_copy);
    const auto master = g.down<float>(d_params);
    expect_close(master, params, nmse_bound(DType::F32), "master weights");
    expect_bitwise_equal(g.down<T16>(d_copy), to_storage<T16>(master), "compute copy");
    g.expect_guards_intact();
  });
}

// One fp16 optimizer step as the trainer takes it: check the (fp32, scaled) gradients,
// let the scaler decide, and step with grad_scale = 1 / scale only when it says so.
TEST(LossScalingGpu, InjectedOverflowSkipsTheStepAndHalvesTheScale) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t n = 100'003;
  const auto params0 = random_vector<float>(n, 1), m0 = random_vector<float>(n, 3, -0.1, 0.1);
  const auto v0 = random_vector<float>(n, 4, 0, 0.01);
  GpuOps g;
  const Tensor params = g.up(params0), m = g.up(m0), v = g.up(v0);
  const Tensor copy = g.up(to_storage<__half>(params0));
  LossScaler scaler(LossScalerConfig{.initial_scale = 1024.0, .growth_interval = 2});
  const auto step = [&](const std::vector<float>& grads) {
    const Tensor d_grads = g.up(grads);
    const bool skip = scaler.update(found_inf(g.ctx, d_grads));
    if (!skip)
      adamw_update(g.ctx, params, d_grads, m, v, AdamWStep{.lr = 1e-2, .grad_scale = 1.0 / scaler.scale()}, copy);
    return skip;
  };
  for (const float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
    SCOPED_TRACE(bad);
    auto grads = random_vector<float>(n, 2, -1000, 1000);
    grads[static_cast<size_t>(n / 2 + 1)] = bad;
    const double scale_before = scaler.scale();
    EXPECT_TRUE(step(grads));
    EXPECT_EQ(scaler.scale(), scale_before / 2);
    expect_bitwise_equal(g.down<float>(params), params0, "params after a skipped step");
    expect_bitwise_equal(g.down<float>(m), m0, "m after a skipped step");
    expect_bitwise_equal(g.down<__half>(copy), to_storage<__half>(params0), "compute copy after a skipped step");
  }
  // Finite gradients step, and growth_interval of them double the scale again.
  const double scale = scaler.scale();
  EXPECT_FALSE(step(random_vector<float>(n, 5, -1000, 1000)));
  EXPECT_FALSE(step(random_vector<float>(n, 6, -1000, 1000)));
  EXPECT_EQ(scaler.scale(), 2 * scale);
  const auto stepped = g.down<float>(params);
  EXPECT_NE(std::memcmp(stepped.data(), params0.data(), params0.size() * sizeof(float)), 0);
  expect_bitwise_equal(g.down<__half>(copy), to_storage<__half>(stepped), "compute copy after good steps");
  g.expect_guards_intact();
}

// Four uploads queued back to back, with an op after the first that reads its destination,
// and host sources scribbled over as soon as each upload returns: the op sees the first
// upload's values and the destinations end with the later ones. The uploads take turns
// between two staging buffers, so the third and fourth must wait for the first and second
// ones' copies to read theirs; the third is larger than any before, so its buffer grows.
TEST(UploadGpu, QueuesBehindEarlierWorkAndLeavesTheSourcesFree) {
  MASKLM_SKIP_WITHOUT_GPU();
  constexpr int64_t kN = 1000;
  GpuOps g;
  const Tensor values = g.output(Shape{kN}), ids = g.output<int32_t>(Shape{kN});
  const Tensor seen = g.up(std::vector<float>(kN, 0.0f));
  // Round r's values for elements [0, kN).
  const auto round_values = [](int r) {
    std::vector<float> v(kN);
    for (int64_t i = 0; i < kN; ++i) v[static_cast<size_t>(i)] = static_cast<float>(r * 10000 + i);
    return v;
  };
  const auto round_ids = [](int r) {
    std::vector<int32_t> v(kN);
    for (int64_t i = 0; i < kN; ++i)
      v[static_cast<size_t>(i)] = static_cast<int32_t>(r * 10000 - i);
    return v;
  };
  // Uploads round r's elements [begin, end) of both arrays, then scribbles over the sources.
  const auto upload_round = [&](int r, int64_t begin, int64_t end) {
    std::vector<float> v = round_values(r);
    std::vector<int32_t> d = round_ids(r);
    const Shape n{end - begin};
    upload(g.ctx, std::array{Upload{values.rows(begin, end), host_tensor(v.data() + begin, n)},
                             Upload{ids.rows(begin, end), host_tensor(d.data() + begin, n)}});
    std::fill(v.begin(), v.end(), -1.0f);
    std::fill(d.begin(), d.end(), -1);
  };
  // `into` with its elements [begin, end) taken from `from`.
  const auto spliced = [](auto into, const auto& from, int64_t begin, int64_t end) {
    std::copy(from.begin() + begin, from.begin() + end, into.begin() + begin);
    return into;
  };

  upload_round(1, 0, kN / 2);
  add_inplace(g.ctx, seen.rows(0, kN / 2), values.rows(0, kN / 2));
  upload_round(2, 0, kN / 4);
  upload_round(3, kN / 4, kN);
  upload_round(4, kN / 4, kN / 2);
  EXPECT_EQ(g.down<float>(seen), spliced(std::vector<float>(kN, 0.0f), round_values(1), 0, kN / 2));
  EXPECT_EQ(g.down<float>(values), spliced(spliced(round_values(3), round_values(2), 0, kN / 4),
                                           round_values(4), kN / 4, kN / 2));
  EXPECT_EQ(g.down<int32_t>(ids),
            spliced(spliced(round_ids(3), round_ids(2), 0, kN / 4), round_ids(4), kN / 4, kN / 2));
  g.expect_guards_intact();
}

}  // namespace
}  // namespace masklm
