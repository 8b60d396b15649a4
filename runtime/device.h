// Device queries and raw device memory. Implemented in device_cuda.cu when masklm is built
// with CUDA, and in device_none.cpp otherwise (where every call reports that CUDA is absent).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace masklm {

class CudaContext;  // runtime/cuda_context.h

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
// A CudaContext on GPU `index`. A shared_ptr (its deleter is made where the type is
// complete), so code compiled without the CUDA headers can own one.
std::shared_ptr<CudaContext> make_cuda_context(int index = 0);

void* device_malloc(size_t bytes);
void device_free(void* p);
void device_memset_zero(void* p, size_t bytes);
// Copies `bytes` between host and device memory in any direction (CUDA tells them apart by
// address), in the order of `stream` (a cudaStream_t; null for the default stream). Returns
// once the copy is complete, so both sides may be reused at once.
void device_copy(void* dst, const void* src, size_t bytes, void* stream = nullptr);

// One host array to copy into device memory (CudaContext::upload, asynchronously).
struct HostToDevice {
  void* dst;
  const void* src;
  size_t bytes;
};

// dst = src for tensors of one shape and dtype on any devices (same contract as device_copy).
inline void copy_tensor(const Tensor& dst, const Tensor& src, void* stream = nullptr) {
  MASKLM_CHECK(dst.shape == src.shape && dst.dtype == src.dtype,
               "copy_tensor: {} {} cannot be copied into {} {}", dtype_name(src.dtype),
               src.shape.str(), dtype_name(dst.dtype), dst.shape.str());
  if (dst.nbytes() == 0) return;
  if (dst.device == Device::CPU && src.device == Device::CPU)
    std::memcpy(dst.data, src.data, dst.nbytes());
  else
    device_copy(dst.data, src.data, dst.nbytes(), stream);
}

}  // namespace masklm
