// The kernels of rows.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 128;  // columns per block in the row kernels

// grid (P, column tiles)
template <typename T> __global__ void gather_rows_kernel(T* out, const T* in, const int32_t* index,
                                                         int64_t C, int64_t N, int* error_flag) {
  const int64_t p = blockIdx.x, c = blockIdx.y * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const int32_t row = index[p];
  if (row < 0 || row >= N) {
    raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
    out[p * C + c] = from_float<T>(0.0f);
    return;
  }
  out[p * C + c] = in[row * C + c];
}

__global__ void iota_kernel(int32_t* values, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    values[i] = static_cast<int32_t>(i);
}

// grid (P, column tiles): sorted_index (P) ascending, source_rows (P) the p of each entry.
template <typename DstT, typename SrcT>
__global__ void scatter_add_runs_kernel(DstT* dst, const SrcT* src, const int32_t* sorted_index,
                                        const int32_t* source_rows, int64_t P, int64_t C, int64_t N,
                                        int* error_flag) {
  const int64_t start = blockIdx.x;
  const int32_t row = sorted_index[start];
  if (start > 0 && sorted_index[start - 1] == row) return;  // not the start of a run
  if (row < 0 || row >= N) {
    if (threadIdx.x == 0) raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
    return;
  }
  const int64_t c = blockIdx.y * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  float acc = to_float(dst[row * C + c]);
  for (int64_t t = start; t < P && sorted_index[t] == row; ++t)
    acc += to_float(src[source_rows[t] * C + c]);
  dst[row * C + c] = from_float<DstT>(acc);
}

}  // namespace
}  // namespace masklm::cuda
