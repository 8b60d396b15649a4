// The kernels of gemm.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;

// c[i, j] += bias[j]: only when cuBLASLt has no algorithm with the BIAS epilogue for a shape.
template <typename T>
__global__ void add_bias_kernel(T* c, int64_t ldc, const T* bias, int64_t m, int64_t n) {
  for (int64_t idx = global_thread_index(); idx < m * n; idx += global_thread_count()) {
    T& cij = c[(idx / n) * ldc + idx % n];
    cij = from_float<T>(to_float(cij) + to_float(bias[idx % n]));
  }
}

}  // namespace
}  // namespace masklm::cuda
