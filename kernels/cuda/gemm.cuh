// Row-major GEMM through cuBLASLt, with the same arguments as cpu::gemm
// (kernels/cpu/gemm_tiles.h) plus an optional bias:
//   c (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * c (+ bias[j] on every row;
//   a bias only with beta 0).
// Leading dimensions are in elements, so column slices of wider rows need no copy.
// Always computes in true fp32 (CUBLAS_COMPUTE_32F, never TF32), so fp32 results match the
// CPU closely and 16-bit operands are multiplied and summed in fp32: with beta = 1 a 16-bit
// c is read, added to in fp32 and rounded once (kernels/cuda/precision.h).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// The storage dtypes of one GEMM: a and b hold `ab` (F32, BF16 or F16); c and the bias
// hold `c`, which is `ab` or, for 16-bit a and b, F32 (parameter gradients).
struct GemmDTypes {
  DType ab = DType::F32;
  DType c = DType::F32;
};

void gemm(CudaContext& cc, GemmDTypes dtypes, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const void* a, int64_t lda, const void* b, int64_t ldb, float beta, void* c, int64_t ldc,
          const void* bias = nullptr);

// The all-F32 GEMM.
inline void gemm(CudaContext& cc, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                 const float* bias = nullptr) {
  gemm(cc, GemmDTypes{}, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
}

}  // namespace masklm::cuda
