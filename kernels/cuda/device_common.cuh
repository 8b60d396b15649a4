// The device helpers every kernel uses: launch-size constants, grid-stride indices, warp
// and block reductions, raising the device error flag. Only what both nvcc and the CPU
// emulation of tests/emulation (cuda_emulator.h) compile: kernels/cuda/common.cuh adds the
// CUDA runtime around it, the emulation's stand-in common.cuh adds the emulator.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/device_error.h"

namespace masklm::cuda {

constexpr int WARP_SIZE = 32;
constexpr unsigned kFullWarpMask = 0xffffffffu;

__host__ __device__ constexpr int64_t CEIL_DIV(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid for a grid-stride loop over n items: one item per thread up to a cap (the loops
// cover the rest), so huge flat buffers need no 64-bit grid sizes.
inline unsigned grid_stride_blocks(int64_t n, int threads) {
  constexpr int64_t kMaxBlocks = int64_t{1} << 16;
  return static_cast<unsigned>(std::clamp<int64_t>(CEIL_DIV(n, threads), 1, kMaxBlocks));
}

// Grid-stride loops: for (i = global_thread_index(); i < n; i += global_thread_count()).
__device__ __forceinline__ int64_t global_thread_index() {
  return blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
}
__device__ __forceinline__ int64_t global_thread_count() { return int64_t{gridDim.x} * blockDim.x; }

// Butterfly (xor) reduction: every lane ends with the same bits, because each step adds
// the same two partial sums on both sides and float addition is commutative.
template <typename T> __device__ __forceinline__ T warp_sum(T v) {
  for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullWarpMask, v, offset);
  return v;
}

template <typename T> __device__ __forceinline__ T warp_max(T v) {
  for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2)
    v = max(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  return v;
}

// Sum over a whole block (blockDim.x a multiple of WARP_SIZE, at most 1024) in a fixed
// order, so the result is reproducible; every thread gets it. `shared` holds WARP_SIZE values.
template <typename T> __device__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int warps = blockDim.x / WARP_SIZE;
  v = warp_sum(v);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : T(0);
  return warp_sum(v);
}

// First error wins; later ones are dropped until CudaContext::synchronize() reports it.
__device__ __forceinline__ void raise_device_error(int* flag, DeviceError e) {
  atomicCAS(flag, 0, static_cast<int>(e));
}

}  // namespace masklm::cuda
