#include "kernels/cpu/matmul.h"

#include <algorithm>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/rows.h"

namespace masklm::cpu {

// BLAS requires leading dimensions of at least 1, even for empty matrices.
static int64_t ld(int64_t n) { return std::max<int64_t>(1, n); }
template <typename T>
void matmul_forward(T* out, const T* in, const T* weight, const T* bias, int64_t N, int64_t I,
                    int64_t O) {
  // Start from the bias and let the GEMM add onto it (beta = 1): no separate pass.
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) std::copy_n(bias, O, out + n * O);
  }
  gemm_parallel(false, true, N, O, I, T(1), in, ld(I), weight, ld(I), bias ? T(1) : T(0), out, ld(O));
}

template <typename T>
void matmul_backward(T* din, T* dweight, T* dbias, const T* dout, const T* in, const T* weight,
                     int64_t N, int64_t I, int64_t O) {
  // beta = 1 makes both GEMMs accumulate into the existing gradients.
  if (din) gemm_parallel(false, false, N, I, O, T(1), dout, ld(O), weight, ld(I), T(1), din, ld(I));  // (N, O) @ (O, I)
  if (dweight)
    gemm_parallel(true, false, O, I, N, T(1), dout, ld(O), in, ld(I), T(1), dweight, ld(I));  // (N, O)^T @ (N, I)
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
