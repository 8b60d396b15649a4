// Building blocks for CPU kernels that tile their work into GEMM-sized blocks and run the
// tiles on OpenMP threads: a row-major OpenBLAS GEMM templated on float/double, a guard
// that makes calling it from every thread safe and fast, per-thread scratch, and an even
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

// Keeps OpenBLAS single-threaded for its lifetime. Kernels that parallelize with OpenMP and
// call gemm() from every thread hold one, because the pthread build of OpenBLAS would
// otherwise start its own pool per call and oversubscribe the cores.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~BlasSingleThreaded() { openblas_set_num_threads(saved_); }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;

 private:
  int saved_;
};

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
