// The kernels of padded_layout.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kRowThreads = 128, kThreads = 256;

// The token row of padded row (b, s), or -1 where the sequence has ended.
__device__ __forceinline__ int64_t token_row(const int32_t* cu_seqlens, int64_t b, int64_t s) {
  const int64_t first = cu_seqlens[b];
  return s < cu_seqlens[b + 1] - first ? first + s : -1;
}

// Block r handles padded row r = b * S + s.
template <typename T> __global__ void pad_rows_kernel(T* padded, const T* src,
                                                      const int32_t* cu_seqlens, int64_t S,
                                                      int64_t W) {
  const int64_t r = blockIdx.x, row = token_row(cu_seqlens, r / S, r % S);
  T* dst = padded + r * W;
  for (int64_t w = threadIdx.x; w < W; w += blockDim.x)
    dst[w] = row >= 0 ? src[row * W + w] : from_float<T>(0.0f);
}

template <typename T> __global__ void unpad_rows_kernel(T* dst, const T* padded,
                                                        const int32_t* cu_seqlens, int64_t S,
                                                        int64_t W, bool accumulate) {
  const int64_t r = blockIdx.x, row = token_row(cu_seqlens, r / S, r % S);
  if (row < 0) return;
  const T* from = padded + r * W;
  T* to = dst + row * W;
  for (int64_t w = threadIdx.x; w < W; w += blockDim.x)
    to[w] = accumulate ? from_float<T>(to_float(to[w]) + to_float(from[w])) : from[w];
}

// Thread r handles padded row r = b * S + s of stats (B, NH, S) for every head; TO_PADDED:
// dst = stats, src = lse (NH, N), else the reverse.
template <bool TO_PADDED> __global__ void move_lse_kernel(float* dst, const float* src,
                                                          const int32_t* cu_seqlens, int64_t B,
                                                          int64_t S, int64_t NH, int64_t N) {
  for (int64_t r = global_thread_index(); r < B * S; r += global_thread_count()) {
    const int64_t b = r / S, s = r % S, row = token_row(cu_seqlens, b, s);
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t padded = (b * NH + h) * S + s;
      if constexpr (TO_PADDED)
        dst[padded] = row >= 0 ? src[h * N + row] : 0.0f;
      else if (row >= 0)
        dst[h * N + row] = src[padded];
    }
  }
}

}  // namespace
}  // namespace masklm::cuda
