// The kernels of gemm.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;

// c[i, j] = bias[j], for the GEMM to add its product to: only when cuBLASLt has no
// algorithm with the BIAS epilogue for a shape.
template <typename T>
__global__ void broadcast_bias_kernel(T* c, int64_t ldc, const T* bias, int64_t m, int64_t n) {
  for (int64_t idx = global_thread_index(); idx < m * n; idx += global_thread_count())
    c[(idx / n) * ldc + idx % n] = bias[idx % n];
}

// Row-major c (m, n) = alpha * op(a) op(b) + beta * c, one thread per element summing over k
// in fp32 in order: only for shapes cuBLASLt has no algorithm for (rows of 1 to 3 bf16
// logits, say), where a tiled kernel would gain nothing. As in BLAS, c is not read when
// beta is 0.
template <typename TAB, typename TC>
__global__ void simple_gemm_kernel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                   float alpha, const TAB* a, int64_t lda, const TAB* b,
                                   int64_t ldb, float beta, TC* c, int64_t ldc) {
  for (int64_t idx = global_thread_index(); idx < m * n; idx += global_thread_count()) {
    const int64_t i = idx / n, j = idx % n;
    float sum = 0.0f;
    for (int64_t p = 0; p < k; ++p)
      sum += to_float(trans_a ? a[p * lda + i] : a[i * lda + p]) *
             to_float(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
    TC& cij = c[i * ldc + j];
    cij = from_float<TC>(alpha * sum + (beta == 0.0f ? 0.0f : beta * to_float(cij)));
  }
}

}  // namespace
}  // namespace masklm::cuda
