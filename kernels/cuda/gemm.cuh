// Row-major F32 GEMM through cuBLASLt, with the same arguments as cpu::gemm
// (kernels/cpu/gemm_tiles.h) plus an optional bias:
//   c (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * c (+ bias[j] on every row).
// Leading dimensions are in elements, so column slices of wider rows need no copy.
// Computes in true fp32 (CUBLAS_COMPUTE_32F, never TF32), so results match the CPU closely.
#pragma once

#include <cstdint>

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

void gemm(CudaContext& cc, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc, const float* bias = nullptr);

}  // namespace masklm::cuda
