#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/philox_uniforms.h"
#include "kernels/cpu/vector_math.h"

namespace masklm::cpu {
namespace {

// Calls fn(i, len) for blocks [i, i + len) of at most 4096 values covering [0, n), spread
// over the threads.
template <typename Fn> void for_each_block(int64_t n, Fn&& fn) {
  const Blocks blocks = split_blocks(n, 4096);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks.count; ++b)
    fn(blocks.begin(b), blocks.end(b, n) - blocks.begin(b));
}

// Calls fn(i, uniforms, len) for runs [i, i + len) covering [0, n), spread over the
// threads, with uniforms[k] = philox_uniform(key, i + k): dropout's draw for value i + k.
template <typename Fn> void for_each_uniform_run(int64_t n, const RngKey& key, Fn&& fn) {
  for_each_block(n, [&](int64_t i, int64_t len) {
    for_each_uniform_chunk(
        key, static_cast<uint64_t>(i), len,
        [&](int64_t j, const float* uniforms, int64_t count) { fn(i + j, uniforms, count); });
  });
}

}  // namespace

template <typename T> void gelu_forward(T* out, const T* in, int64_t n) {
  for_each_block(n, [&](int64_t i, int64_t len) { gelu_contiguous(out + i, in + i, len); });
}

template <typename T> void gelu_backward(T* din, const T* dout, const T* in, int64_t n) {
  for_each_block(
      n, [&](int64_t i, int64_t len) { gelu_backward_contiguous(din + i, dout + i, in + i, len); });
}

template <typename T> void residual_forward(T* out, const T* a, const T* b, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T> void add_inplace(T* dst, const T* src, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

template <typename T>
void dropout_forward(T* out, const T* in, int64_t n, float p, const RngKey& key) {
  if (p == 0.0f) {
    if (out != in) std::copy_n(in, n, out);
    return;
  }
  // One reciprocal instead of a divide per value: within one rounding of in / (1 - p).
  const T scale = T(1) / (T(1) - T(p));
  // p and scale by value: a reference would be reloaded after every store to out (they may
  // alias), which keeps the loop scalar.
  for_each_uniform_run(n, key, [out, in, p, scale](int64_t i, const float* uniforms, int64_t len) {
    T* o = out + i;
    const T* x = in + i;
    for (int64_t k = 0; k < len; ++k) {
      const T kept = x[k] * scale;  // loaded either way, so the select needs no branch
      o[k] = dropout_keeps(uniforms[k], p) ? kept : T(0);
    }
  });
}

template <typename T>
void dropout_backward(T* din, const T* dout, int64_t n, float p, const RngKey& key) {
  const T scale = T(1) / (T(1) - T(p));
  for_each_uniform_run(n, key,
                       [din, dout, p, scale](int64_t i, const float* uniforms, int64_t len) {
                         T* d = din + i;
                         const T* g = dout + i;
                         for (int64_t k = 0; k < len; ++k) {
                           const T before = d[k], kept = before + g[k] * scale;
                           d[k] = dropout_keeps(uniforms[k], p) ? kept : before;
                         }
                       });
}

template <typename T> void scale_inplace(T* x, int64_t n, double s) {
  const T factor = static_cast<T>(s);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

template <typename T> void fill_zero(T* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = T(0);
}

template <typename T> double sum_squares(const T* x, int64_t n) {
  // Fixed-size chunks whose partial sums are added in chunk order: the result does not
  // depend on the thread count, so a gradient norm (and clipping) is bitwise reproducible.
  constexpr int64_t kChunk = int64_t{1} << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  thread_local std::vector<double> scratch;  // grows once, then reused
  if (static_cast<int64_t>(scratch.size()) < chunks) scratch.resize(static_cast<size_t>(chunks));
  double* partials = scratch.data();  // the calling thread's buffer, shared with the team
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    const T* chunk = x + k * kChunk;
    const int64_t len = std::min(kChunk, n - k * kChunk);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < len; ++i) sum += static_cast<double>(chunk[i]) * chunk[i];
    partials[k] = sum;
  }
  double total = 0;
  for (int64_t k = 0; k < chunks; ++k) total += partials[k];
  return total;
}

#define MASKLM_INSTANTIATE(T)                                                          \
  template void gelu_forward<T>(T*, const T*, int64_t);                                \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);                     \
  template void residual_forward<T>(T*, const T*, const T*, int64_t);                  \
  template void add_inplace<T>(T*, const T*, int64_t);                                 \
  template void dropout_forward<T>(T*, const T*, int64_t, float, const RngKey&);       \
  template void dropout_backward<T>(T*, const T*, int64_t, float, const RngKey&);      \
  template void scale_inplace<T>(T*, int64_t, double);                                 \
  template void fill_zero<T>(T*, int64_t);                                             \
  template double sum_squares<T>(const T*, int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
