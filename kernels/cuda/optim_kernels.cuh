// The kernels of optim.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kSquaresChunk = int64_t{1} << 14;

struct AdamWConstants {
  float beta1, beta2, m_correction, v_correction, lr, decay, eps, grad_scale;
};

// The step-wide constants, computed in double on the host as the CPU computes them.
inline AdamWConstants adamw_constants(double lr, double beta1, double beta2, double eps,
                                      double weight_decay, int64_t step, double grad_scale) {
  const double t = static_cast<double>(step);
  return {static_cast<float>(beta1),
          static_cast<float>(beta2),
          static_cast<float>(1.0 / (1.0 - std::pow(beta1, t))),
          static_cast<float>(1.0 / (1.0 - std::pow(beta2, t))),
          static_cast<float>(lr),
          static_cast<float>(lr * weight_decay),
          static_cast<float>(eps),
          static_cast<float>(grad_scale)};
}

// CopyT: the storage type of the compute copy written beside the fp32 master weights, or
// void for none. W values per step: 4 (16-byte packs of the fp32 buffers, 8-byte packs of a
// 16-bit copy) when adamw_packs_fit, else 1; values do not interact, so both widths compute
// the same bits.
template <typename CopyT, int W> __global__ void adamw_kernel(float* params, const float* grads,
                                                              float* m, float* v, CopyT* copy,
                                                              AdamWConstants k, int64_t n) {
  for (int64_t i = global_thread_index() * W; i < n; i += global_thread_count() * W) {
    float p[W], g[W], mi[W], vi[W];
    load_pack<float, W>(p, params + i);
    load_pack<float, W>(g, grads + i);
    load_pack<float, W>(mi, m + i);
    load_pack<float, W>(vi, v + i);
#pragma unroll
    for (int j = 0; j < W; ++j) {
      g[j] *= k.grad_scale;
      mi[j] = k.beta1 * mi[j] + (1.0f - k.beta1) * g[j];
      vi[j] = k.beta2 * vi[j] + (1.0f - k.beta2) * g[j] * g[j];
      const float update = (mi[j] * k.m_correction) / (sqrtf(vi[j] * k.v_correction) + k.eps);
      // Decoupled decay uses the parameter before this step's update.
      p[j] = p[j] - (k.lr * update + k.decay * p[j]);
    }
    store_pack<float, W>(m + i, mi);
    store_pack<float, W>(v + i, vi);
    store_pack<float, W>(params + i, p);
    if constexpr (!std::is_void_v<CopyT>) store_pack<CopyT, W>(copy + i, p);
  }
}

// Whether adamw_kernel can take packs of kPackWidth<float> values: n a multiple of it and
// every buffer aligned to its pack (16 bytes for fp32, 8 for a 16-bit copy).
template <typename CopyT> bool adamw_packs_fit(int64_t n, const float* params, const float* grads,
                                               const float* m, const float* v, const CopyT* copy) {
  constexpr int W = kPackWidth<float>;
  if constexpr (!std::is_void_v<CopyT>)
    if (reinterpret_cast<uintptr_t>(copy) % alignof(Pack<CopyT, W>) != 0) return false;
  return rows_fit_packs<float>(n, params, grads, m, v);
}

// One block per chunk: partials[chunk] = sum of squares over the chunk, in double.
__global__ void chunk_squares_kernel(double* partials, const float* x, int64_t n) {
  __shared__ double shared[WARP_SIZE];
  const int64_t begin = blockIdx.x * kSquaresChunk, end = min(n, begin + kSquaresChunk);
  double sum = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    sum += static_cast<double>(x[i]) * x[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// One block: total[0] = sum of partials[0 .. chunks).
__global__ void sum_partials_kernel(double* total, const double* partials, int64_t chunks) {
  __shared__ double shared[WARP_SIZE];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < chunks; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *total = sum;
}

}  // namespace
}  // namespace masklm::cuda
