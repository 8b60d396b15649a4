// NCCL with world size 1 on the GPU, bootstrapped without MPI (the GPU machine of
// scripts/gpu-check has no MPI; several ranks bootstrap through MPI, and the data-parallel
// logic they run is the one tests/mpi checks on CPU ranks): every collective on device
// buffers written on the compute stream just before, against the values a one-rank sum
// gives; and gradient buckets all-reduced during the backward pass, on NCCL's stream
// ordered by events, with the bits of buckets all-reduced after it.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "kernels/device_context.h"
#include "train/comm.h"
#include "train/data_parallel.h"
#include "trainer_fixture.h"
#ifdef MASKLM_WITH_NCCL
#include "train/comm_nccl.h"
#endif

namespace masklm {
namespace {

#ifndef MASKLM_WITH_NCCL
TEST(NcclOneRank, NeedsNccl) { GTEST_SKIP() << "built without NCCL (-DMASKLM_NCCL=OFF)"; }
#else

using gpu_testing::expect_bitwise_equal;
using gpu_testing::GpuOps;

TEST(NcclOneRank, CollectivesOnGpuBuffers) {
  MASKLM_SKIP_WITHOUT_GPU();
  GpuOps gpu;
  const auto comm = nccl_comm(single_process_comm());
  comm->bind(gpu.ctx);
  EXPECT_EQ(comm->name(), "NCCL");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world_size(), 1);

  const std::vector<float> values{1.5f, -2.0f, 3.25f, 1e-30f, 7.0f, -0.125f};
  const std::vector<float> doubled{3.0f, -4.0f, 6.5f, 2e-30f, 14.0f, -0.25f};
  const Tensor a = gpu.up(values), b = gpu.up(values);
  // Doubled on the compute stream: the collectives must wait for it.
  scale_inplace(gpu.ctx, a, 2.0);
  comm->all_reduce_sum(a);
  EXPECT_EQ(gpu.down<float>(a), doubled);
  scale_inplace(gpu.ctx, b, 2.0);
  comm->start_all_reduce_sum(a);
  comm->start_all_reduce_sum(b);
  comm->wait_all();
  EXPECT_EQ(gpu.down<float>(a), doubled);
  EXPECT_EQ(gpu.down<float>(b), doubled);
  // One rank: its block is the whole buffer, and the sum over one rank is the value.
  scale_inplace(gpu.ctx, a, 0.5);
  comm->reduce_scatter_sum(a);
  EXPECT_EQ(gpu.down<float>(a), values);
  comm->all_gather(a);
  EXPECT_EQ(gpu.down<float>(a), values);
  comm->broadcast(b, 0);
  EXPECT_EQ(gpu.down<float>(b), doubled);
  comm->barrier();
  std::array<double, 2> host{2.5, -1.0};
  comm->sum_host(host);
  EXPECT_EQ(host, (std::array<double, 2>{2.5, -1.0}));

  std::vector<float> on_host(values);
  testing::expect_error([&] { comm->all_reduce_sum(host_tensor(on_host, Shape{6})); },
                        "GPU buffers");
  gpu.expect_guards_intact();
}

// Buckets of one tensor each, scaled by 0.5 (exact) and all-reduced over one rank: the
// overlapped reduction, the end-of-backward one, ZeRO-1's reduce-scatter and the plain
// gradient halved on the host agree bitwise. A bucket read by NCCL before the backward
// finished it would not.
TEST(NcclOneRank, OverlappedBucketsMatchEndOfBackward) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = testing::small_run({"model.num_layers=3"});
  DeviceContext device(Device::CUDA);
  Ctx& ctx = device.ctx();
  MlmModel model(run.config.model, Capacity{64, 64}, DType::F32, Device::CUDA);
  model.init_weights(run.config.train.seed);
  const auto comm = nccl_comm(single_process_comm());
  DataParallel dp(comm, model, ctx, /*zero1=*/false, /*bucket_bytes=*/1);
  DataParallel zero1(comm, model, ctx, /*zero1=*/true);
  const Batch batch = run.data.train->batch(0, 0);
  const DropoutPlan dropout{RngKey{7, 0, 0, RngStream::HIDDEN_DROPOUT, 0}, true};
  enum class Reduce { NONE, AFTER, OVERLAPPED, ZERO1 };
  auto gradients = [&](Reduce reduce) {
    model.zero_grads(ctx);
    model.forward(ctx, batch, dropout);
    if (reduce == Reduce::OVERLAPPED) {
      dp.start_reduction(ctx, model, 0.5);
      model.backward(ctx, dropout, dp.grads_ready());
      dp.finish_reduction();
    } else {
      model.backward(ctx, dropout);
      if (reduce == Reduce::AFTER) dp.reduce_gradients(ctx, model, 0.5);
      if (reduce == Reduce::ZERO1) zero1.reduce_gradients(ctx, model, 0.5);  // ncclReduceScatter
    }
    return testing::arena_snapshot(model.grad_arena());
  };
  std::vector<float> halved = gradients(Reduce::NONE);
  for (float& g : halved) g *= 0.5f;
  const std::vector<float> after = gradients(Reduce::AFTER);
  const std::vector<float> overlapped = gradients(Reduce::OVERLAPPED);
  expect_bitwise_equal(after, halved, "reduced after the backward");
  expect_bitwise_equal(overlapped, halved, "reduced during the backward");
  expect_bitwise_equal(gradients(Reduce::ZERO1), halved, "reduce-scattered (ZeRO-1)");
  double norm = 0;
  for (float g : halved) norm += double(g) * g;
  EXPECT_GT(norm, 0.0);
}

#endif  // MASKLM_WITH_NCCL

}  // namespace
}  // namespace masklm
