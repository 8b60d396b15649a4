// The emulation's streams and events (include/emulator_streams.h): a compute stream's work
// waits until something needs it, a non-blocking stream's runs at once (deferred too under
// the reversed schedule), and events, synchronizations and the legacy default stream order
// them as CUDA does; copies to and from page-locked memory are stream work. The kernels
// write into host memory, which the host may read at any time here, to see when they ran.
#include <gtest/gtest.h>

#include <functional>

#include "emulated_test_support.h"

namespace masklm::cuda {
namespace {

__global__ void store(int* out, int value) {
  if (threadIdx.x == 0) *out = value;
}
__global__ void copy_value(int* out, const int* in) {
  if (threadIdx.x == 0) *out = *in;
}

class StreamsEmulated : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cudaStreamCreate(&compute), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaEventCreate(&event), cudaSuccess);
  }
  void TearDown() override {
    cudaEventDestroy(event);
    cudaStreamDestroy(side);
    cudaStreamDestroy(compute);
  }
  cudaStream_t compute = nullptr, side = nullptr;
  cudaEvent_t event = nullptr;
};

TEST_F(StreamsEmulated, ComputeWorkRunsWhenSomethingWaitsForIt) {
  int x = 0;
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 1);
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 2);
  EXPECT_EQ(x, 0) << "deferred";
  ASSERT_EQ(cudaEventRecord(event, compute), cudaSuccess);
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 3);
  ASSERT_EQ(cudaEventSynchronize(event), cudaSuccess);
  EXPECT_EQ(x, 2) << "the work before the record, in order, and no more";
  ASSERT_EQ(cudaStreamSynchronize(compute), cudaSuccess);
  EXPECT_EQ(x, 3);

  // The legacy default stream (a blocking copy, a launch on stream 0) waits for it.
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 4);
  int y = 0, z = 0;
  ASSERT_EQ(cudaMemcpy(&y, &z, sizeof y, cudaMemcpyHostToHost), cudaSuccess);
  EXPECT_EQ(x, 4);
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 5);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, nullptr, &y, &x);
  EXPECT_EQ(y, 5);
}

// A copy between device and page-locked memory (cudaMallocHost) is stream work, as on a
// GPU: the host may still change its source until the stream runs it. From pageable memory
// it completes before the call returns.
TEST_F(StreamsEmulated, PageLockedCopiesAreStreamWork) {
  int* device = nullptr;
  int* pinned = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), sizeof(int)), cudaSuccess);
  int pageable = 1, back = 0;
  ASSERT_EQ(cudaMemcpyAsync(device, &pageable, sizeof(int), cudaMemcpyHostToDevice, compute),
            cudaSuccess);
  pageable = 2;
  ASSERT_EQ(cudaMemcpy(&back, device, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, 1) << "copied before the call returned";

  *pinned = 3;
  ASSERT_EQ(cudaMemcpyAsync(device, pinned, sizeof(int), cudaMemcpyHostToDevice, compute),
            cudaSuccess);
  *pinned = 4;
  ASSERT_EQ(cudaStreamSynchronize(compute), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(&back, device, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, 4) << "copied when the stream ran it";
  ASSERT_EQ(cudaFreeHost(pinned), cudaSuccess);
  ASSERT_EQ(cudaFree(device), cudaSuccess);
}

TEST_F(StreamsEmulated, ASideStreamWaitsOnlyForTheEventsItIsGiven) {
  int x = 0, y = 0;
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 7);
  ASSERT_EQ(cudaEventRecord(event, compute), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(side, event), cudaSuccess);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, side, &y, &x);
  if (emulator::schedule.defer_non_blocking_streams) {
    EXPECT_EQ(y, 0) << "deferred until waited for";
    int z = 0;
    ASSERT_EQ(cudaMemcpy(&z, &z, sizeof z, cudaMemcpyHostToHost), cudaSuccess);
    EXPECT_EQ(y, 0) << "the legacy default stream does not wait for a non-blocking one";
    ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  }
  EXPECT_EQ(y, 7) << "ran after the compute stream's work it waited for";

  // Without a wait it may run before the compute stream's earlier work, as on a GPU.
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 8);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, side, &y, &x);
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_EQ(y, 7) << "read before the store that nothing made it wait for";
  ASSERT_EQ(cudaStreamSynchronize(compute), cudaSuccess);
  EXPECT_EQ(x, 8);
}

// Copies and memsets within device memory are stream work; a copy from the host is done
// before cudaMemcpyAsync returns.
TEST_F(StreamsEmulated, DeviceToDeviceCopiesAreStreamWork) {
  int* a = nullptr;
  int* b = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&a), sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&b), sizeof(int)), cudaSuccess);
  int one = 1, seen = 0;
  ASSERT_EQ(cudaMemcpyAsync(a, &one, sizeof one, cudaMemcpyHostToDevice, compute), cudaSuccess);
  one = 2;  // the copy has read it already
  ASSERT_EQ(cudaMemsetAsync(b, 0, sizeof(int), compute), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b, a, sizeof(int), cudaMemcpyDeviceToDevice, compute), cudaSuccess);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, side, &seen, b);
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_EQ(seen, -1) << "b as allocated (all bits set): the compute stream has not run yet";
  ASSERT_EQ(cudaStreamSynchronize(compute), cudaSuccess);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, side, &seen, b);
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_EQ(seen, 1);
  ASSERT_EQ(cudaFree(b), cudaSuccess);
  ASSERT_EQ(cudaFree(a), cudaSuccess);
}

TEST_F(StreamsEmulated, CudaFreeAndStreamDestroyFinishTheWork) {
  int x = 0;
  int* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), sizeof(int)), cudaSuccess);
  launch_kernel(store, dim3(1), dim3(32), 0, compute, device, 9);
  launch_kernel(copy_value, dim3(1), dim3(32), 0, compute, &x, device);
  ASSERT_EQ(cudaFree(device), cudaSuccess);  // synchronizes the device first
  EXPECT_EQ(x, 9);

  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 10);
  ASSERT_EQ(cudaStreamDestroy(compute), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(compute), cudaErrorInvalidValue);  // destroyed already
  EXPECT_EQ(x, 10);
  ASSERT_EQ(cudaStreamCreate(&compute), cudaSuccess);  // for TearDown
}

// Asynchronous work (the NCCL stand-in's collectives): the stream's later work waits for
// it, a query polls it and says "not ready" meanwhile, a synchronization polls until done.
TEST_F(StreamsEmulated, AsynchronousWorkHoldsUpItsStreamUntilItCompletes) {
  int x = 0, polls = 0;
  bool complete = false;
  cudaEvent_t before = nullptr;
  ASSERT_EQ(cudaEventCreate(&before), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(before, side), cudaSuccess);
  emulator::streams.enqueue_async(side, [&]() -> std::function<bool()> {
    return [&] {
      ++polls;
      return complete;
    };
  });
  launch_kernel(store, dim3(1), dim3(32), 0, side, &x, 1);
  ASSERT_EQ(cudaEventRecord(event, side), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(before), cudaSuccess) << "recorded before the work in flight";
  EXPECT_EQ(cudaEventQuery(event), cudaErrorNotReady);
  EXPECT_EQ(cudaEventQuery(event), cudaErrorNotReady);
  EXPECT_EQ(x, 0) << "held up behind the work in flight";
  EXPECT_GE(polls, 2) << "each query polls";
  complete = true;
  EXPECT_EQ(cudaEventQuery(event), cudaSuccess);
  EXPECT_EQ(x, 1);

  polls = 0;
  emulator::streams.enqueue_async(
      side, [&]() -> std::function<bool()> { return [&] { return ++polls == 3; }; });
  launch_kernel(store, dim3(1), dim3(32), 0, side, &x, 2);
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_EQ(polls, 3) << "polled until it completed, then no more";
  EXPECT_EQ(x, 2);
  ASSERT_EQ(cudaEventDestroy(before), cudaSuccess);
}

// A stream waiting for an event behind asynchronous work in flight on another stream is not
// ready either, and asking does not block; the legacy default stream waits for such work.
TEST_F(StreamsEmulated, AWaitForWorkInFlightLeavesQueriesFree) {
  int x = 0;
  bool complete = false;
  emulator::streams.enqueue_async(
      side, [&]() -> std::function<bool()> { return [&] { return complete; }; });
  ASSERT_EQ(cudaEventRecord(event, side), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(compute, event), cudaSuccess);
  launch_kernel(store, dim3(1), dim3(32), 0, compute, &x, 1);
  cudaEvent_t after = nullptr;
  ASSERT_EQ(cudaEventCreate(&after), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(after, compute), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(after), cudaErrorNotReady);
  EXPECT_EQ(x, 0);
  complete = true;
  EXPECT_EQ(cudaEventQuery(after), cudaSuccess);
  EXPECT_EQ(x, 1);
  ASSERT_EQ(cudaEventDestroy(after), cudaSuccess);

  int polls = 0;
  emulator::streams.enqueue_async(
      nullptr, [&]() -> std::function<bool()> { return [&] { return ++polls == 2; }; });
  EXPECT_EQ(polls, 2) << "the legacy default stream returns once its work completed";
}

}  // namespace
}  // namespace masklm::cuda
