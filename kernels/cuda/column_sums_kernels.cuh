// The kernels of the two-stage column sums (kernels/cuda/column_sums.cuh; launches in
// column_sums.cu), in a header so that tests/emulation also compiles them for the CPU.
// One thread per column in both stages: neighbouring threads read neighbouring columns of
// a row, so every load is coalesced, and each sum has one owner and a fixed order.
#pragma once

#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;

// grid (column blocks, chunks): partials[chunk, c] = sum of src[r, c] over the chunk's rows.
template <typename T> __global__ void chunk_column_sums_kernel(float* partials, const T* src,
                                                               int64_t rows, int64_t cols,
                                                               int64_t ld) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = blockIdx.y * kColumnSumChunkRows;
  const int64_t r1 = min(rows, r0 + kColumnSumChunkRows);
  float sum = 0.0f;
  for (int64_t r = r0; r < r1; ++r) sum += to_float(src[r * ld + c]);
  partials[blockIdx.y * cols + c] = sum;
}

__global__ void add_partial_sums_kernel(float* dst, const float* partials, int64_t chunks,
                                        int64_t cols) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.0f;
  for (int64_t k = 0; k < chunks; ++k) sum += partials[k * cols + c];
  dst[c] += sum;
}

}  // namespace
}  // namespace masklm::cuda
