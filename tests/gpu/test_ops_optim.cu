// GPU AdamW and sum_squares against the CPU on odd sizes; sum_squares must also be bitwise
// reproducible from call to call.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/op_harness.cuh"
#include "gradcheck.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_close;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
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

}  // namespace
}  // namespace masklm
