// The emulation's device memory (include/emulator_device_memory.h): what cudaMalloc returns
// is filled with 0xFF, open to kernels, copies and memsets, and closed to host code, which
// dies naming the allocation, as a host dereference of a device pointer would on a GPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "emulated_test_support.h"

namespace masklm::cuda {
namespace {

__global__ void write_indices(float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = static_cast<float>(i);
}

// OpenBLAS has started its threads: fork-only death tests would warn.
class DeviceMemoryEmulated : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(DeviceMemoryEmulated, OpenToKernelsCopiesAndMemsetsOnly) {
  const int n = 100;
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), n * sizeof(float)), cudaSuccess);
  std::vector<uint32_t> bits(n);
  ASSERT_EQ(cudaMemcpy(bits.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (const uint32_t b : bits) EXPECT_EQ(b, 0xFFFFFFFFu);  // a fresh allocation is NaN

  launch_kernel(write_indices, dim3(4), dim3(32), 0, nullptr, device, n);
  std::vector<float> host(n);
  ASSERT_EQ(cudaMemcpy(host.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (int i = 0; i < n; ++i) EXPECT_EQ(host[i], static_cast<float>(i));

  ASSERT_EQ(cudaMemset(device + 10, 0, 5 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(host.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (int i = 0; i < n; ++i) EXPECT_EQ(host[i], i >= 10 && i < 15 ? 0.0f : float(i));

  // volatile: the accesses must happen, whatever the optimizer makes of them.
  volatile float* stray = device;
  EXPECT_DEATH(stray[n / 2] = 1.0f, "host code touched device memory at .*byte 200 of a");
  EXPECT_DEATH(host[0] = stray[3], "host code touched device memory");

  ASSERT_EQ(cudaFree(device), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaErrorInvalidValue);  // freed already
  EXPECT_EQ(cudaFree(host.data()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
}

// Large allocations come in 2 MiB-aligned mappings; every byte is still 0xFF and closed.
TEST_F(DeviceMemoryEmulated, LargeAllocationsAreWholeAndClosed) {
  const size_t bytes = (size_t{5} << 20) + 12;
  unsigned char* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), bytes), cudaSuccess);
  std::vector<unsigned char> host(bytes);
  ASSERT_EQ(cudaMemcpy(host.data(), device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(host, std::vector<unsigned char>(bytes, 0xFF));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(device) % (size_t{2} << 20), 0u);
  EXPECT_DEATH(host[0] = static_cast<volatile unsigned char*>(device)[bytes - 1],
               "host code touched device memory");
  ASSERT_EQ(cudaFree(device), cudaSuccess);
}

}  // namespace
}  // namespace masklm::cuda
