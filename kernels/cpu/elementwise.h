// Elementwise ops and flat-buffer reductions on n contiguous values.
#pragma once

#include <cstdint>

#include "runtime/philox.h"

namespace masklm::cpu {

// GELU, exact erf form. out may alias in.
template <typename T> void gelu_forward(T* out, const T* in, int64_t n);
// din += dout * gelu'(in).
template <typename T> void gelu_backward(T* din, const T* dout, const T* in, int64_t n);

// out = a + b.
template <typename T> void residual_forward(T* out, const T* a, const T* b, int64_t n);
// dst += src.
template <typename T> void add_inplace(T* dst, const T* src, int64_t n);

// Inverted dropout, keep(i) = philox_uniform(key, i) >= p, kept values scaled by 1 / (1 - p).
// out may alias in; p = 0 copies.
template <typename T> void dropout_forward(T* out, const T* in, int64_t n, float p, const RngKey& key);
// din += keep(i) ? dout / (1 - p) : 0, with the mask recomputed from the same key.
template <typename T> void dropout_backward(T* din, const T* dout, int64_t n, float p, const RngKey& key);

// x *= s.
template <typename T> void scale_inplace(T* x, int64_t n, double s);
// x = 0.
template <typename T> void fill_zero(T* x, int64_t n);
// sum of x[i]^2 in double; the same bits for any thread count.
template <typename T> double sum_squares(const T* x, int64_t n);

}  // namespace masklm::cpu
