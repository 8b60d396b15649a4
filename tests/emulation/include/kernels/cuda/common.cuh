// The emulation's stand-in for kernels/cuda/common.cuh: what the fused attention kernels
// use of it, on top of cuda_emulator.h. Found before the real header because
// tests/emulation/include comes first on the include path.
#pragma once

#include <cstdint>

#include "cuda_emulator.h"
#include "runtime/device_error.h"

namespace masklm::cuda {

constexpr int WARP_SIZE = emulator::kWarpSize;
constexpr unsigned kFullWarpMask = 0xffffffffu;

inline int64_t global_thread_index() { return blockIdx.x * int64_t{blockDim.x} + threadIdx.x; }
inline int64_t global_thread_count() { return int64_t{gridDim.x} * blockDim.x; }

inline float warp_sum(float v) {
  for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullWarpMask, v, offset);
  return v;
}

inline void raise_device_error(int* flag, DeviceError e) {
  atomicCAS(flag, 0, static_cast<int>(e));
}

inline unsigned char* dynamic_shared_memory() { return emulator::current_block->shared.data(); }

}  // namespace masklm::cuda
