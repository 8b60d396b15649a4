// The emulator's schedules (cuda_emulator.h, MASKLM_EMULATOR_SCHEDULE), which ctest runs
// these tests under in turn: blocks and threads run in index order, or reversed, so that a
// missing barrier between a write and a read of shared memory shows under one of them.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "emulated_test_support.h"

namespace masklm::cuda {
namespace {

// Thread 0 writes a shared value that the block's last thread reads: a race unless
// `barrier` puts a __syncthreads between.
__global__ void last_thread_reads_first_threads_write(float* out, bool barrier) {
  auto* shared = reinterpret_cast<float*>(dynamic_shared_memory());
  if (threadIdx.x == 0) shared[0] = 1.0f;
  if (barrier) __syncthreads();
  if (threadIdx.x == blockDim.x - 1) out[0] = shared[0];
}

TEST(ScheduleEmulated, ThreadOrderDecidesWhatARaceReads) {
  float out = 0.0f;
  emulator::launch(last_thread_reads_first_threads_write, dim3(1), 64, sizeof(float), &out, true);
  EXPECT_EQ(out, 1.0f);
  emulator::launch(last_thread_reads_first_threads_write, dim3(1), 64, sizeof(float), &out, false);
  if (emulator::schedule.reverse_threads)
    EXPECT_TRUE(std::isnan(out)) << "the reader ran first and saw unwritten (NaN) shared memory";
  else
    EXPECT_EQ(out, 1.0f) << "the writer ran first: the race stays hidden in index order";
}

__global__ void record_block_order(int* order, int* next) {
  if (threadIdx.x == 0) order[blockIdx.y * gridDim.x + blockIdx.x] = (*next)++;
}

TEST(ScheduleEmulated, BlocksRunOneAtATimeInTheScheduledOrder) {
  const dim3 grid(3, 2);
  std::vector<int> order(6, -1);
  int next = 0;
  emulator::launch(record_block_order, grid, 32, 0, order.data(), &next);
  const std::vector<int> forward{0, 1, 2, 3, 4, 5}, backward{5, 4, 3, 2, 1, 0};
  EXPECT_EQ(order, emulator::schedule.reverse_blocks ? backward : forward);
}

}  // namespace
}  // namespace masklm::cuda
