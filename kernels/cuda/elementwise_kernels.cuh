// The kernels of elementwise.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"
#include "runtime/philox.h"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// The flat kernels below take W values per step: 16-byte packs (W = kPackWidth<T>) when n
// is a multiple of the pack and every buffer is 16-byte aligned, else W = 1. Values do not
// interact, so both widths compute the same bits. GELU takes Φ from normcdff, not from
// (1 + erff(x/√2))/2, which cancels in the lower tail (the CPU reference does the same).

template <typename T, int W> __global__ void gelu_forward_kernel(T* out, const T* in, int64_t n) {
  for (int64_t i = global_thread_index() * W; i < n; i += global_thread_count() * W) {
    float x[W];
    load_pack<T, W>(x, in + i);
#pragma unroll
    for (int j = 0; j < W; ++j) x[j] *= normcdff(x[j]);
    store_pack<T, W>(out + i, x);
  }
}

template <typename T, int W>
__global__ void gelu_backward_kernel(T* din, const T* dout, const T* in, int64_t n) {
  for (int64_t i = global_thread_index() * W; i < n; i += global_thread_count() * W) {
    float d[W], dy[W], x[W];
    load_pack<T, W>(d, din + i);
    load_pack<T, W>(dy, dout + i);
    load_pack<T, W>(x, in + i);
#pragma unroll
    for (int j = 0; j < W; ++j) {
      // gelu'(x) = Phi(x) + x * phi(x): the normal CDF plus x times the normal density.
      const float cdf = normcdff(x[j]);
      const float pdf = kInvSqrt2Pi * expf(-0.5f * x[j] * x[j]);
      d[j] += dy[j] * (cdf + x[j] * pdf);
    }
    store_pack<T, W>(din + i, d);
  }
}

// out = a + b; also add_inplace's dst += src, with out = a = dst (each value is read before
// it is written, by the same thread).
template <typename T, int W>
__global__ void residual_forward_kernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = global_thread_index() * W; i < n; i += global_thread_count() * W) {
    float x[W], y[W];
    load_pack<T, W>(x, a + i);
    load_pack<T, W>(y, b + i);
#pragma unroll
    for (int j = 0; j < W; ++j) x[j] += y[j];
    store_pack<T, W>(out + i, x);
  }
}

template <typename T, int W> __global__ void scale_kernel(T* x, float s, int64_t n) {
  for (int64_t i = global_thread_index() * W; i < n; i += global_thread_count() * W) {
    float v[W];
    load_pack<T, W>(v, x + i);
#pragma unroll
    for (int j = 0; j < W; ++j) v[j] *= s;
    store_pack<T, W>(x + i, v);
  }
}

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* dst, const Src* src, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    dst[i] = from_float<Dst>(to_float(src[i]));
}

// The scale of kept values, computed once on the host in float exactly as the CPU computes
// it, so kept fp32 values are bitwise equal on both backends.
inline float dropout_keep_scale(float p) { return 1.0f / (1.0f - p); }

// The four values of a Philox block as one pack (Pack<T, 4>: 16 bytes of fp32, 8 of a 16-bit
// type) when n is a multiple of 4 and both buffers are aligned to it.
template <typename T> bool dropout_packs_fit(int64_t n, const T* out, const T* in) {
  constexpr size_t kAlign = alignof(Pack<T, 4>);
  return n % 4 == 0 && reinterpret_cast<uintptr_t>(out) % kAlign == 0 &&
         reinterpret_cast<uintptr_t>(in) % kAlign == 0;
}

// ACCUMULATE false: out = keep ? in * scale : 0 (forward, out may alias in).
// ACCUMULATE true:  out += keep ? in * scale : 0 (backward).
// PACKED: the block's four values move as one pack (dropout_packs_fit), else one by one.
template <typename T, bool ACCUMULATE, bool PACKED>
__global__ void dropout_kernel(T* out, const T* in, int64_t n, float p, float scale, RngKey key) {
  const int64_t blocks = CEIL_DIV(n, 4);
  for (int64_t b = global_thread_index(); b < blocks; b += global_thread_count()) {
    const PhiloxCounter words = philox_block(key, static_cast<uint64_t>(b));
    const auto kept = [&](int j, float x) {
      return u32_to_uniform(words.c[j]) >= p ? x * scale : 0.0f;
    };
    if constexpr (PACKED) {
      float x[4], y[4];
      load_pack<T, 4>(x, in + 4 * b);
      if constexpr (ACCUMULATE) load_pack<T, 4>(y, out + 4 * b);
#pragma unroll
      for (int j = 0; j < 4; ++j) y[j] = ACCUMULATE ? y[j] + kept(j, x[j]) : kept(j, x[j]);
      store_pack<T, 4>(out + 4 * b, y);
    } else {
      for (int j = 0; j < 4 && 4 * b + j < n; ++j) {
        const int64_t i = 4 * b + j;
        if constexpr (ACCUMULATE)
          out[i] = from_float<T>(to_float(out[i]) + kept(j, to_float(in[i])));
        else
          out[i] = from_float<T>(kept(j, to_float(in[i])));
      }
    }
  }
}

}  // namespace
}  // namespace masklm::cuda
