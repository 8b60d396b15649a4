// Device queries and raw device memory. Implemented in device_cuda.cu when masklm is built
// with CUDA, and in device_none.cpp otherwise (where every call reports that CUDA is absent).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace masklm {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int sm_major = 0, sm_minor = 0;
  size_t memory_bytes = 0;
  int multiprocessors = 0;
  bool bf16 = false;  // native bf16 arithmetic (sm_80 and newer)
};

bool cuda_compiled();                    // masklm was built with the CUDA backend
std::vector<DeviceInfo> cuda_devices();  // empty when no driver or no GPU is present
std::string cuda_runtime_version();      // e.g. "13.0", or "none"

void* device_malloc(size_t bytes);
void device_free(void* p);
void device_memset_zero(void* p, size_t bytes);

}  // namespace masklm
