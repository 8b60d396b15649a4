// Building blocks for CPU kernels that tile their work into GEMM-sized blocks and run the
// tiles on OpenMP threads: a row-major OpenBLAS GEMM templated on float/double, a row-parallel
// GEMM, per-thread scratch, and an even
// split of a dimension into blocks.
#pragma once

#include <cblas.h>

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace masklm::cpu {

// c (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * c; row-major, leading dimensions
// in elements, so column slices of wider rows (e.g. one head of qkv) need no copy.
template <typename T> void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
                                T* c, int64_t ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
}

// masklm owns the threading: OpenBLAS always runs single-threaded, called from masklm's
// OpenMP threads. Two thread pools (OpenMP's and the pthread OpenBLAS's) on the same cores
// oversubscribe them, and each pool's spin-waiting then starves the other.
inline void ensure_blas_single_threaded() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

// gemm() with the rows of C split across the OpenMP threads (each block one
// single-threaded BLAS call); small products stay on the calling thread.
template <typename T>
void gemm_parallel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  ensure_blas_single_threaded();
  constexpr int64_t kMinFlopsPerThread = int64_t{1} << 20;
  const int64_t threads = std::min<int64_t>(omp_get_max_threads(), std::max<int64_t>(1, m * n * k / kMinFlopsPerThread));
  const int64_t rows = (m + threads - 1) / std::max<int64_t>(threads, 1);
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(threads)) if (threads > 1)
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t begin = t * rows, end = std::min(m, begin + rows);
    if (begin >= end) continue;
    // Row `begin` of op(a) is row `begin` of a, or column `begin` when a is transposed.
    const T* a_block = trans_a ? a + begin : a + begin * lda;
    gemm(trans_a, trans_b, end - begin, n, k, alpha, a_block, lda, b, ldb, beta, c + begin * ldc, ldc);
  }
}

// Scratch owned by the calling thread that grows once to the largest size seen and is
// reused by every later call (the ops allocate nothing per call in steady state).
template <typename T> T* thread_scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// n items split into `count` blocks of `size` (the last may be shorter): at least one block
// per OpenMP thread, a multiple of the thread count so static schedules stay balanced, and
// no block above max_size.
struct Blocks {
  int64_t size, count;
  int64_t begin(int64_t b) const { return b * size; }
  int64_t end(int64_t b, int64_t n) const { return std::min(n, (b + 1) * size); }
};
inline Blocks split_blocks(int64_t n, int64_t max_size) {
  const int64_t threads = omp_get_max_threads();
  int64_t count = std::max(threads, (n + max_size - 1) / max_size);
  count = (count + threads - 1) / threads * threads;
  const int64_t size = std::max<int64_t>(1, (n + count - 1) / count);
  return {size, (n + size - 1) / size};
}

}  // namespace masklm::cpu
