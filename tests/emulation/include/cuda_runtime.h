// The emulation's CUDA runtime (cuda_emulator.h): the calls masklm makes, for one device
// whose memory is host memory and whose streams defer their work or run it at once,
// whichever exposes a missing dependency (emulator_streams.h). With it (and cublasLt.h,
// cub/ and nccl.h beside it) the whole CUDA backend compiles with the host compiler and
// its GPU tests run on the CPU (CMake's MASKLM_CUDA_EMULATION). Fresh allocations are
// filled with 0xFF bytes (NaN in every float type, -1 in integers), so a kernel that reads
// memory nobody wrote fails its test; and they are closed to host code
// (emulator_device_memory.h), so host code that dereferences a device pointer crashes here
// as it would on a GPU.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "cuda_emulator.h"
#include "emulator_streams.h"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidDevice = 101,
  cudaErrorNotReady = 600,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost,
  cudaMemcpyHostToDevice,
  cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice,
  cudaMemcpyDefault,
};
enum cudaDeviceAttr {
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDisableTiming = 2;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
  int multiProcessorCount;
};

namespace emulator {

// The emulated device: an H100's compute capability and shared memory, so every kernel
// masklm has for sm_90 runs (bf16 included). Tests of what an older GPU refuses lower the
// capability the device reports for a while (ReportedCapability below).
constexpr int kComputeMajor = 9, kComputeMinor = 0;
struct ReportedCapability {
  int major = kComputeMajor, minor = kComputeMinor;
};
inline ReportedCapability reported_capability;
constexpr int kMaxDynamicSharedBytes = 227 * 1024;

// A kernel may launch with more than 48 KiB of dynamic shared memory only after
// cudaFuncSetAttribute raised its limit.
inline std::map<const void*, int> dynamic_smem_limits;
inline int dynamic_smem_limit(const void* kernel) {
  const auto found = dynamic_smem_limits.find(kernel);
  return found == dynamic_smem_limits.end() ? 48 * 1024 : found->second;
}

// Page-locked host memory (cudaMallocHost): host memory, but remembered, because CUDA copies
// between it and device memory asynchronously (stream work, run in the stream's turn), not
// before the call returns as it does from pageable memory. Fresh allocations are 0xFF bytes.
class PinnedMemory {
 public:
  void* allocate(size_t bytes) {
    auto* p = static_cast<unsigned char*>(std::malloc(bytes ? bytes : 1));
    if (!p) return nullptr;
    std::memset(p, 0xFF, bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    allocations_[p] = bytes;
    return p;
  }
  // Whether p was allocated here (and not freed yet); frees it if so.
  bool release(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (allocations_.erase(static_cast<unsigned char*>(p)) == 0) return false;
    std::free(p);
    return true;
  }
  // Whether p points into a live allocation.
  bool owns(const void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_allocation(allocations_, p);
  }

 private:
  std::mutex mutex_;
  std::map<unsigned char*, size_t> allocations_;
};
inline PinnedMemory pinned_memory;

}  // namespace emulator

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error (emulated)";
    case cudaErrorInvalidValue: return "invalid argument (emulated)";
    case cudaErrorMemoryAllocation: return "out of memory (emulated)";
    case cudaErrorInvalidDevice: return "invalid device ordinal (emulated)";
    case cudaErrorNotReady: return "device not ready (emulated)";
  }
  return "unknown error (emulated)";
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  *prop = {};
  std::strcpy(prop->name, "CUDA emulation on the CPU");
  prop->totalGlobalMem = size_t{8} << 30;
  prop->major = emulator::reported_capability.major;
  prop->minor = emulator::reported_capability.minor;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor:
      *value = emulator::reported_capability.major;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = emulator::kMaxDynamicSharedBytes;
      return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}
template <typename... Params>
cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      value > emulator::kMaxDynamicSharedBytes)
    return cudaErrorInvalidValue;
  emulator::dynamic_smem_limits[reinterpret_cast<const void*>(kernel)] = value;
  return cudaSuccess;
}

inline cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = emulator::pinned_memory.allocate(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
// No synchronization (CUDA documents none): copies still queued from the memory read it
// after it is freed, so code must wait for them first.
inline cudaError_t cudaFreeHost(void* p) {
  return !p || emulator::pinned_memory.release(p) ? cudaSuccess : cudaErrorInvalidValue;
}
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = emulator::device_memory.allocate(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  emulator::streams.synchronize_device();  // as CUDA's cudaFree does
  return !p || emulator::device_memory.release(p) ? cudaSuccess : cudaErrorInvalidValue;
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr) {
  emulator::streams.enqueue(s, [=] {
    const auto access = emulator::device_access();
    std::memset(p, value, bytes);
  });
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  return cudaMemsetAsync(p, value, bytes, nullptr);
}
// A copy that touches pageable host memory completes before returning (CUDA's rule), after
// the stream's earlier work; one between device and page-locked memory is stream work.
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                                   cudaStream_t s = nullptr) {
  auto copy = [=] {
    const auto access = emulator::device_access();
    if (bytes) std::memmove(dst, src, bytes);
  };
  const bool on_device = emulator::device_memory.owns(dst) || emulator::device_memory.owns(src);
  const auto queued = [](const void* p) {
    return emulator::device_memory.owns(p) || emulator::pinned_memory.owns(p);
  };
  if (on_device && queued(dst) && queued(src)) {
    emulator::streams.enqueue(s, copy);
  } else {
    emulator::streams.synchronize(s);
    copy();
  }
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

// Streams and events: emulator_streams.h.
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  *s = emulator::streams.create((flags & cudaStreamNonBlocking) != 0);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  return emulator::streams.destroy(s) ? cudaSuccess : cudaErrorInvalidValue;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  emulator::streams.synchronize(s);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() {
  emulator::streams.synchronize_device();
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st;
  return cudaSuccess;
}
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  emulator::streams.record(e, s);
  return cudaSuccess;
}
// Asking runs the work the event waits for, up to asynchronous work still in flight.
inline cudaError_t cudaEventQuery(cudaEvent_t e) {
  return emulator::streams.query(e) ? cudaSuccess : cudaErrorNotReady;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  emulator::streams.synchronize(e);
  return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned = 0) {
  emulator::streams.wait(s, e);
  return cudaSuccess;
}
