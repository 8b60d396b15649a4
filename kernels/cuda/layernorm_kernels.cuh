// The kernels of layernorm.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>

#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per block, one row each
constexpr int kColumnThreads = 256;

// Blocks for N rows, one warp per row.
inline unsigned row_blocks(int64_t N) { return static_cast<unsigned>(CEIL_DIV(N, kRowsPerBlock)); }

// The row kernels run with W = 1 (scalar loads, any C) or W = kPackWidth<T> (16-byte
// loads, for rows that fit packs: rows_fit_packs): lane l owns the W-wide packs at columns
// W l, W (l + 32), ..., so every loop below visits the same columns in the same order in
// every pass, and a lane reads back only what it wrote.

// Normalizes row n of x into out (one warp, `lane` its lane) and saves its statistics.
template <typename T, int W>
__device__ void normalize_row(T* out, float* mean, float* rstd, const T* x, const T* weight,
                              const T* bias, int64_t n, int64_t C, float eps, int lane) {
  float sum = 0.0f;
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float v[W];
    load_pack<T, W>(v, x + c);
#pragma unroll
    for (int i = 0; i < W; ++i) sum += v[i];
  }
  const float mu = warp_sum(sum) / static_cast<float>(C);
  float squares = 0.0f;
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float v[W];
    load_pack<T, W>(v, x + c);
#pragma unroll
    for (int i = 0; i < W; ++i) squares += (v[i] - mu) * (v[i] - mu);
  }
  // 1 / sqrtf is correctly rounded (rsqrtf is not), keeping the GPU within an ulp of the CPU.
  const float rs = 1.0f / sqrtf(warp_sum(squares) / static_cast<float>(C) + eps);
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float v[W], w[W], b[W];
    load_pack<T, W>(v, x + c);
    load_pack<T, W>(w, weight + c);
    load_pack<T, W>(b, bias + c);
#pragma unroll
    for (int i = 0; i < W; ++i) v[i] = (v[i] - mu) * rs * w[i] + b[i];
    store_pack<T, W>(out + c, v);
  }
  if (lane == 0) {
    mean[n] = mu;
    rstd[n] = rs;
  }
}

template <typename T, int W>
__global__ void layernorm_forward_kernel(T* out, float* mean, float* rstd, const T* in,
                                         const T* weight, const T* bias, int64_t N, int64_t C,
                                         float eps) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (n >= N) return;  // whole warps leave together; no block-wide barrier follows
  normalize_row<T, W>(out + n * C, mean, rstd, in + n * C, weight, bias, n, C, eps, lane);
}

// sum = a + b, rounded to T as residual_forward rounds it, then the row of sum normalized:
// each lane reads back only the columns it wrote, so the warp needs no barrier between.
template <typename T, int W>
__global__ void residual_layernorm_forward_kernel(T* sum, T* out, float* mean, float* rstd,
                                                  const T* a, const T* b, const T* weight,
                                                  const T* bias, int64_t N, int64_t C, float eps) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (n >= N) return;
  T* s = sum + n * C;
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float x[W], y[W];
    load_pack<T, W>(x, a + n * C + c);
    load_pack<T, W>(y, b + n * C + c);
#pragma unroll
    for (int i = 0; i < W; ++i) x[i] += y[i];
    store_pack<T, W>(s + c, x);
  }
  normalize_row<T, W>(out + n * C, mean, rstd, s, weight, bias, n, C, eps, lane);
}

// With g = dout * weight and xhat the normalized input:
// din += rstd * (g - mean(g) - xhat * mean(g * xhat)).
template <typename T, int W>
__global__ void layernorm_din_kernel(T* din, const T* dout, const T* in, const T* weight,
                                     const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (n >= N) return;
  const T* x = in + n * C;
  const T* dy = dout + n * C;
  const float m = mean[n], r = rstd[n];
  float g_sum = 0.0f, g_xhat_sum = 0.0f;
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float g[W], w[W], v[W];
    load_pack<T, W>(g, dy + c);
    load_pack<T, W>(w, weight + c);
    load_pack<T, W>(v, x + c);
#pragma unroll
    for (int i = 0; i < W; ++i) {
      g[i] *= w[i];
      g_sum += g[i];
      g_xhat_sum += g[i] * ((v[i] - m) * r);
    }
  }
  const float g_mean = warp_sum(g_sum) / static_cast<float>(C);
  const float g_xhat_mean = warp_sum(g_xhat_sum) / static_cast<float>(C);
  T* dx = din + n * C;
  for (int64_t c = lane * W; c < C; c += WARP_SIZE * W) {
    float d[W], g[W], w[W], v[W];
    load_pack<T, W>(d, dx + c);
    load_pack<T, W>(g, dy + c);
    load_pack<T, W>(w, weight + c);
    load_pack<T, W>(v, x + c);
#pragma unroll
    for (int i = 0; i < W; ++i) d[i] += r * (g[i] * w[i] - g_mean - (v[i] - m) * r * g_xhat_mean);
    store_pack<T, W>(dx + c, d);
  }
}

// Stage 1 of dweight/dbias, grid (column blocks, chunks): the chunk's rows summed per column
// into dw_partials and db_partials (chunks, C).
template <typename T>
__global__ void layernorm_param_partials_kernel(float* dw_partials, float* db_partials,
                                                const T* dout, const T* in, const float* mean,
                                                const float* rstd, int64_t N, int64_t C) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const int64_t r0 = blockIdx.y * kColumnSumChunkRows;
  const int64_t r1 = min(N, r0 + kColumnSumChunkRows);
  float dw = 0.0f, db = 0.0f;
  for (int64_t n = r0; n < r1; ++n) {
    const float dy = to_float(dout[n * C + c]);
    dw += dy * ((to_float(in[n * C + c]) - mean[n]) * rstd[n]);
    db += dy;
  }
  dw_partials[blockIdx.y * C + c] = dw;
  db_partials[blockIdx.y * C + c] = db;
}

}  // namespace
}  // namespace masklm::cuda
