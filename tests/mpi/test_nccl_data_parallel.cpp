// Data-parallel training on GPU ranks over NCCL, run as `mpirun -np 2` (tests/mpi/
// CMakeLists.txt): one GPU per rank, or in the emulated build (no GPU) each rank's emulated
// GPU with the emulation's NCCL over MPI (tests/emulation/include/nccl.h). The collectives
// on GPU buffers against sums worked out by hand (each rank's block of a reduce-scatter and
// an all-gather sits at its own offset, which one rank cannot check), and the trainer's
// data-parallel promises as test_mpi_data_parallel.cpp checks them on CPU ranks.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data_parallel_runs.h"
#include "expect_error.h"
#include "kernels/device_context.h"
#include "kernels/ops.h"
#include "runtime/arena.h"
#include "runtime/device.h"
#include "runtime/half.h"
#include "runtime/launcher.h"
#include "train/comm.h"
#ifdef MASKLM_TEST_EMULATED_GPUS
#include <nccl.h>  // the emulation's, for its failure injection

#include "train/comm_mpi.h"
#include "train/comm_nccl.h"
#endif

namespace masklm {
namespace {

using testing::RunResult;
using testing::train;

// `recipe` with one more override.
std::vector<std::string> with(std::vector<std::string> recipe, const char* option) {
  recipe.emplace_back(option);
  return recipe;
}

class NcclTwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(launcher_world_size(), 2) << "run with mpirun -np 2";
    if (cuda_devices().empty()) GTEST_SKIP() << "no CUDA device present";
#ifndef MASKLM_TEST_EMULATED_GPUS  // there every process has a GPU of its own
    if (cuda_devices().size() < 2) GTEST_SKIP() << "2 ranks need 2 GPUs, one each";
#endif
    comm = world_comm(Device::CUDA);
    ASSERT_EQ(comm->name(), "NCCL");
    rank = comm->rank();
  }

  // `values` (elements of `dtype`) in GPU memory, a view of `arena`, which the caller keeps.
  template <typename T>
  static Tensor upload(Arena& arena, std::vector<T> values, DType dtype = dtype_of<T>()) {
    const Tensor t = arena.alloc(Shape{static_cast<int64_t>(values.size())}, dtype);
    copy_tensor(t, Tensor{values.data(), t.shape, dtype, Device::CPU});
    return t;
  }
  template <typename T> static std::vector<T> download(const Tensor& t) {
    std::vector<T> host(static_cast<size_t>(t.numel()));
    copy_tensor(Tensor{host.data(), t.shape, t.dtype, Device::CPU}, t);
    return host;
  }

  std::shared_ptr<Comm> comm;
  int rank = -1;
};

TEST_F(NcclTwoRanks, CollectivesSumGatherAndBroadcastGpuBuffers) {
  DeviceContext device(Device::CUDA);
  comm->bind(device.ctx());
  Arena arena(size_t{1} << 16, Device::CUDA);
  // Rank r holds (r + 1) * (i + 0.25): the sum over both ranks is 3 * (i + 0.25).
  std::vector<float> mine(6), sum(6);
  for (int i = 0; i < 6; ++i) {
    mine[i] = static_cast<float>(rank + 1) * (static_cast<float>(i) + 0.25f);
    sum[i] = 3.0f * (static_cast<float>(i) + 0.25f);
  }
  // Each buffer is half of `mine`, plus the other half added on the compute stream: every
  // collective must wait for that (a sum would not notice a scaling out of order).
  std::vector<float> half = mine;
  for (float& x : half) x *= 0.5f;
  const Tensor other_half = upload(arena, half);
  auto written_on_gpu = [&] {
    const Tensor t = upload(arena, half);
    add_inplace(device.ctx(), t, other_half);
    return t;
  };
  const Tensor a = written_on_gpu(), b = written_on_gpu();
  comm->all_reduce_sum(a);
  EXPECT_EQ(download<float>(a), sum);
  comm->start_all_reduce_sum(b);
  comm->wait_all();
  EXPECT_EQ(download<float>(b), sum);

  // Blocks of 3: rank r's block of the reduce-scatter is the sum of block r; the rest of
  // the buffer is the rank's own input, until the all-gather brings in the other block.
  const Tensor c = written_on_gpu();
  comm->reduce_scatter_sum(c);
  std::vector<float> scattered = mine;
  for (int i = 3 * rank; i < 3 * rank + 3; ++i) scattered[i] = sum[i];
  EXPECT_EQ(download<float>(c), scattered);
  comm->all_gather(c);
  EXPECT_EQ(download<float>(c), sum);

  const Tensor d = written_on_gpu();
  comm->broadcast(d, 1);
  std::vector<float> from_rank_1(6);
  for (int i = 0; i < 6; ++i) from_rank_1[i] = 2.0f * (static_cast<float>(i) + 0.25f);
  EXPECT_EQ(download<float>(d), from_rank_1);

  // bf16 (8 significant bits): 1 + 2^-7 on each rank sums to 2 + 2^-6, which it holds.
  const Tensor e =
      upload(arena, std::vector<uint16_t>(4, float_to_bf16(1.0f + 1.0f / 128)), DType::BF16);
  comm->all_reduce_sum(e);
  for (const uint16_t bits : download<uint16_t>(e))
    EXPECT_EQ(bf16_to_float(bits), 2.0f + 1.0f / 64);

  std::array<double, 2> host{0.5 + rank, -1.0};
  comm->sum_host(host);
  EXPECT_EQ(host, (std::array<double, 2>{2.0, -2.0}));
}

// 2 GPU ranks with micro-batch B each = 1 GPU rank with micro-batch 2B (dropout off: its
// masks depend on the micro-batch shape), the bound for fp32.
TEST_F(NcclTwoRanks, TwoRanksMatchOneRankWithTwiceTheBatch) {
  const std::vector<std::string> recipe{"train.steps=20", "model.hidden_dropout=0",
                                        "model.attention_dropout=0"};
  const RunResult two = train(with(recipe, "train.micro_batch_size=4"), comm, {}, Device::CUDA);
  const RunResult one =
      train(with(recipe, "train.micro_batch_size=8"), single_process_comm(), {}, Device::CUDA);
  testing::expect_two_ranks_match_one(
      two, one, 1e-6, fmt::format("rank {}: 2 GPU ranks vs 1 after 20 steps", rank));
}

// Gradient buckets all-reduced on NCCL's stream during the backward pass (one tensor per
// bucket) give the bits of the reduction after it; ZeRO-1 (reduce-scatter, sharded AdamW,
// all-gather) gives the bits of unsharded training when no clipping mixes in the norm.
TEST_F(NcclTwoRanks, OverlapAndZero1GiveTheBitsOfThePlainReduction) {
  const std::vector<std::string> recipe{"train.steps=8", "train.batch_size=16",
                                        "train.bucket_mib=1e-9", "train.optimizer.clip_norm=0"};
  const RunResult plain = train(with(recipe, "train.overlap_comm=false"), comm, {}, Device::CUDA);
  const RunResult overlapped =
      train(with(recipe, "train.overlap_comm=true"), comm, {}, Device::CUDA);
  const RunResult zero1 = train(with(recipe, "train.zero=1"), comm, {}, Device::CUDA);
  EXPECT_EQ(overlapped.params, plain.params);
  EXPECT_EQ(overlapped.losses, plain.losses);
  EXPECT_EQ(zero1.params, plain.params);
  EXPECT_EQ(zero1.losses, plain.losses);
  // And the ranks hold the same parameters.
  double checksum = 0;
  for (const float x : plain.params) checksum += x;
  EXPECT_EQ(comm->sum(checksum), 2 * checksum);
}

// A kernel that meets bad input on one rank raises only that rank's GPU error flag; the next
// checkpoint then fails on both ranks, before ZeRO-1 gathers the optimizer state over NCCL
// (a rank that threw alone would leave the other waiting there), and nothing is written.
TEST_F(NcclTwoRanks, BadInputOnOneRankFailsTheCheckpointOnBoth) {
  const auto dir = testing::fresh_dir(fmt::format("nccl_bad_input_rank{}", rank));
  auto run = testing::small_run({"train.zero=1"});
  Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, comm, Device::CUDA);
  trainer.train_step();
  if (rank == 1) {
    Arena arena(size_t{1} << 12, Device::CUDA);
    const Tensor table = upload(arena, std::vector<float>(8, 1.0f)).view({2, 4});
    const Tensor out = arena.alloc(Shape{1, 4}, DType::F32);
    gather_rows(trainer.device_context().ctx(), out, table, upload(arena, std::vector<int32_t>{5}));
  }
  testing::expect_error(
      [&] { trainer.save_checkpoint(); },
      rank == 1 ? "outside its table" : "another rank's GPU kernels found bad input");
  EXPECT_FALSE(std::filesystem::exists(trainer.checkpoints_dir()));
}

#ifdef MASKLM_TEST_EMULATED_GPUS
// A collective that fails (the emulation's NCCL is told to here, on both ranks alike; on
// GPUs a peer's connection closing does it) is reported by the wait for it, and the aborted
// communicator refuses further work instead of handing NCCL a null communicator. A
// communicator of its own: the fixture's lives on for the process's other tests.
TEST_F(NcclTwoRanks, AFailedCollectiveIsReportedByItsWait) {
  DeviceContext device(Device::CUDA);
  const std::shared_ptr<Comm> comm = nccl_comm(mpi_world_comm());
  comm->bind(device.ctx());
  Arena arena(size_t{1} << 12, Device::CUDA);
  const Tensor buf = upload(arena, std::vector<float>(8, 1.0f));
  emulator::nccl_collectives_to_fail = 1;
  comm->start_all_reduce_sum(buf);
  testing::expect_error(
      [&] { comm->wait_all(); },
      {fmt::format("rank {}: ncclAllReduce failed", rank), "did another rank die"});
  testing::expect_error([&] { comm->all_reduce_sum(buf); }, "aborted after an earlier failure");
}
#endif

// Not a test on its own: tests/mpi/job_ends.cmake runs it with MASKLM_TEST_HANG_RANK=1 and
// checks that rank 0, waiting for a collective the hung rank never joins, gives up after
// MASKLM_COLLECTIVE_TIMEOUT_S and ends the job with a message.
TEST_F(NcclTwoRanks, HungPeerEndsTheJob) {
  const int hung = testing::rank_told_to_hang();
  if (hung < 0) GTEST_SKIP() << "run by tests/mpi/job_ends.cmake";
  DeviceContext device(Device::CUDA);
  comm->bind(device.ctx());
  Arena arena(size_t{1} << 12, Device::CUDA);
  const Tensor buf = upload(arena, std::vector<float>(8, 1.0f));
  if (rank == hung) testing::hang();
  comm->all_reduce_sum(buf);
  FAIL() << "the all-reduce returned although rank " << hung << " never joined it";
}

}  // namespace
}  // namespace masklm
