#include "kernels/cpu/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <type_traits>

#include "kernels/cpu/rows.h"

namespace masklm::cpu {
namespace {

// Row-major C (M, N) = op(A) (M, K) @ op(B) (K, N) + beta * C. Leading dimensions are at
// least 1, as BLAS requires even for empty matrices; empty sizes are valid BLAS calls.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, const T* B,
          T beta, T* C) {
  const CBLAS_TRANSPOSE op_a = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE op_b = trans_b ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(M), n = static_cast<blasint>(N), k = static_cast<blasint>(K);
  const auto lda = static_cast<blasint>(std::max<int64_t>(1, trans_a ? M : K));
  const auto ldb = static_cast<blasint>(std::max<int64_t>(1, trans_b ? K : N));
  const auto ldc = static_cast<blasint>(std::max<int64_t>(1, N));
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, 1.0, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

template <typename T>
void matmul_forward(T* out, const T* in, const T* weight, const T* bias, int64_t N, int64_t I,
                    int64_t O) {
  // Start from the bias and let the GEMM add onto it (beta = 1): no separate pass.
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) std::copy_n(bias, O, out + n * O);
  }
  gemm(false, true, N, O, I, in, weight, bias ? T(1) : T(0), out);
}

template <typename T>
void matmul_backward(T* din, T* dweight, T* dbias, const T* dout, const T* in, const T* weight,
                     int64_t N, int64_t I, int64_t O) {
  // beta = 1 makes both GEMMs accumulate into the existing gradients.
  if (din) gemm(false, false, N, I, O, dout, weight, T(1), din);     // (N, O) @ (O, I)
  if (dweight) gemm(true, false, O, I, N, dout, in, T(1), dweight);  // (N, O)^T @ (N, I)
  if (dbias) add_column_sums(dbias, dout, N, O);
}

#define MASKLM_INSTANTIATE(T)                                                                  \
  template void matmul_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t); \
  template void matmul_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t,  \
                                   int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
