// Device queries and raw device memory through the CUDA runtime.
#include <fmt/format.h>

#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"
#include "runtime/device.h"

namespace masklm {

bool cuda_compiled() { return true; }

std::vector<DeviceInfo> cuda_devices() {
  int count = 0;
  // No driver or no GPU is a normal situation on CPU machines, not an error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  std::vector<DeviceInfo> devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    DeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.sm_major = prop.major;
    d.sm_minor = prop.minor;
    d.memory_bytes = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    d.bf16 = prop.major >= 8;
    devices.push_back(d);
  }
  return devices;
}

std::string cuda_runtime_version() {
  int v = 0;
  CUDA_CHECK(cudaRuntimeGetVersion(&v));
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
}

std::shared_ptr<CudaContext> make_cuda_context(int index) {
  return std::make_shared<CudaContext>(index);
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void device_free(void* p) { (void)cudaFree(p); }

void device_memset_zero(void* p, size_t bytes) { CUDA_CHECK(cudaMemset(p, 0, bytes)); }

void device_copy(void* dst, const void* src, size_t bytes, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace masklm
