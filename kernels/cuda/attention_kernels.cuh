// The kernels of attention.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>
#include <cstddef>

#include "kernels/cuda/common.cuh"
#include "runtime/philox.h"

namespace masklm::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;  // tokens per block

// The shared memory of a block whose warps each keep `vectors` slices of HS floats.
inline size_t per_token_smem_bytes(int64_t HS, int vectors) {
  return static_cast<size_t>(kWarpsPerBlock) * vectors * HS * sizeof(float);
}

struct AttentionShape {
  int64_t B, N, C, HS;
  float scale;       // 1 / sqrt(HS)
  float dropout_p;   // 0 = no dropout
  float keep_scale;  // 1 / (1 - p), computed on the host like the CPU's
};

// The sequence [s0, s1) holding token i; false (after raising the error flag) when the
// offsets do not contain i, so callers never index outside [0, N).
__device__ bool find_sequence(const int32_t* cu_seqlens, const AttentionShape& s, int64_t i,
                              int64_t& s0, int64_t& s1, int* error_flag) {
  int64_t lo = 0, hi = s.B;  // the largest b with cu_seqlens[b] <= i, if offsets are valid
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (cu_seqlens[mid] <= i)
      lo = mid;
    else
      hi = mid;
  }
  s0 = cu_seqlens[lo];
  s1 = cu_seqlens[lo + 1];
  if (0 <= s0 && s0 <= i && i < s1 && s1 <= s.N) return true;
  raise_device_error(error_flag, DeviceError::BAD_CU_SEQLENS);
  return false;
}

// Dropout scale of (head h, query i, key j): philox_uniform(key, (h * N + i) * N + j) >= p.
__device__ float dropout_scale(const AttentionShape& s, const RngKey& key, int64_t h, int64_t i,
                               int64_t j) {
  if (s.dropout_p == 0.0f) return 1.0f;
  const uint64_t index = static_cast<uint64_t>((h * s.N + i) * s.N + j);
  return philox_uniform(key, index) >= s.dropout_p ? s.keep_scale : 0.0f;
}

// a . b over HS values, a in shared memory (this lane's slice), b in global memory.
__device__ float warp_dot(const float* a, const float* b, int64_t HS, int lane) {
  float sum = 0.0f;
  for (int64_t d = lane; d < HS; d += WARP_SIZE) sum += a[d] * b[d];
  return warp_sum(sum);
}

// Token i's q (or k, v) for head h: row i of qkv, section 0 (1, 2), columns h*HS...
__device__ const float* qkv_row(const float* qkv, const AttentionShape& s, int64_t i, int section,
                                int64_t h) {
  return qkv + i * 3 * s.C + section * s.C + h * s.HS;
}

// Every lane walks only d = lane, lane + 32, ... of the shared slices below, so a warp
// needs no barrier; whole warps return together.

__global__ void validate_cu_seqlens_kernel(const int32_t* cu_seqlens, int64_t B, int64_t N,
                                           int* error_flag) {
  for (int64_t b = global_thread_index(); b <= B; b += global_thread_count()) {
    const bool ok = (b == 0 ? cu_seqlens[0] == 0 : cu_seqlens[b - 1] <= cu_seqlens[b]) &&
                    (b < B || cu_seqlens[B] == N);
    if (!ok) raise_device_error(error_flag, DeviceError::BAD_CU_SEQLENS);
  }
}

// grid (token blocks, NH); shared: per warp q, acc (HS each).
__global__ void attention_forward_kernel(float* out, float* lse, const float* qkv,
                                         const int32_t* cu_seqlens, AttentionShape s, RngKey key,
                                         int* error_flag) {
  float* smem = reinterpret_cast<float*>(dynamic_shared_memory());
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int64_t i = blockIdx.x * int64_t{kWarpsPerBlock} + warp, h = blockIdx.y;
  int64_t s0, s1;
  if (i >= s.N || !find_sequence(cu_seqlens, s, i, s0, s1, error_flag)) return;
  float* q = smem + warp * 2 * s.HS;
  float* acc = q + s.HS;
  const float* q_global = qkv_row(qkv, s, i, 0, h);
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE) q[d] = q_global[d], acc[d] = 0.0f;
  float max = -INFINITY, sum = 0.0f;
  for (int64_t j = s0; j < s1; ++j) {
    const float score = warp_dot(q, qkv_row(qkv, s, j, 1, h), s.HS, lane) * s.scale;
    const float new_max = fmaxf(max, score);
    const float rescale = expf(max - new_max);  // 0 for the first key (max = -inf)
    const float e = expf(score - new_max);
    sum = sum * rescale + e;
    const float weight = e * dropout_scale(s, key, h, i, j);
    const float* v = qkv_row(qkv, s, j, 2, h);
    for (int64_t d = lane; d < s.HS; d += WARP_SIZE) acc[d] = acc[d] * rescale + weight * v[d];
    max = new_max;
  }
  const float inv_sum = 1.0f / sum;
  float* o = out + i * s.C + h * s.HS;
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE) o[d] = acc[d] * inv_sum;
  if (lane == 0) lse[h * s.N + i] = max + logf(sum);
}

// grid (token blocks, NH), one warp per query i; shared: per warp q, dO, acc (HS each).
// Writes D (NH, N) for the key pass.
__global__ void attention_dq_kernel(float* dqkv, float* D, const float* dout, const float* out,
                                    const float* qkv, const float* lse, const int32_t* cu_seqlens,
                                    AttentionShape s, RngKey key, int* error_flag) {
  float* smem = reinterpret_cast<float*>(dynamic_shared_memory());
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int64_t i = blockIdx.x * int64_t{kWarpsPerBlock} + warp, h = blockIdx.y;
  int64_t s0, s1;
  if (i >= s.N || !find_sequence(cu_seqlens, s, i, s0, s1, error_flag)) return;
  float* q = smem + warp * 3 * s.HS;
  float* dO = q + s.HS;
  float* acc = dO + s.HS;
  const float* q_global = qkv_row(qkv, s, i, 0, h);
  const float* dO_global = dout + i * s.C + h * s.HS;
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE)
    q[d] = q_global[d], dO[d] = dO_global[d], acc[d] = 0.0f;
  const float Di = warp_dot(dO, out + i * s.C + h * s.HS, s.HS, lane);
  const float row_lse = lse[h * s.N + i];
  for (int64_t j = s0; j < s1; ++j) {
    const float* k = qkv_row(qkv, s, j, 1, h);
    const float p = expf(warp_dot(q, k, s.HS, lane) * s.scale - row_lse);
    const float dp = warp_dot(dO, qkv_row(qkv, s, j, 2, h), s.HS, lane);
    const float ds = p * (dropout_scale(s, key, h, i, j) * dp - Di);
    for (int64_t d = lane; d < s.HS; d += WARP_SIZE) acc[d] += ds * k[d];
  }
  float* dq = dqkv + i * 3 * s.C + h * s.HS;
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE) dq[d] += s.scale * acc[d];
  if (lane == 0) D[h * s.N + i] = Di;
}

// grid (token blocks, NH), one warp per key j; shared: per warp k, v, dk, dv (HS each).
__global__ void attention_dkv_kernel(float* dqkv, const float* D, const float* dout,
                                     const float* qkv, const float* lse, const int32_t* cu_seqlens,
                                     AttentionShape s, RngKey key, int* error_flag) {
  float* smem = reinterpret_cast<float*>(dynamic_shared_memory());
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int64_t j = blockIdx.x * int64_t{kWarpsPerBlock} + warp, h = blockIdx.y;
  int64_t s0, s1;
  if (j >= s.N || !find_sequence(cu_seqlens, s, j, s0, s1, error_flag)) return;
  float* k = smem + warp * 4 * s.HS;
  float* v = k + s.HS;
  float* dk = v + s.HS;
  float* dv = dk + s.HS;
  const float* k_global = qkv_row(qkv, s, j, 1, h);
  const float* v_global = qkv_row(qkv, s, j, 2, h);
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE)
    k[d] = k_global[d], v[d] = v_global[d], dk[d] = dv[d] = 0.0f;
  for (int64_t i = s0; i < s1; ++i) {
    const float* q = qkv_row(qkv, s, i, 0, h);
    const float* dO = dout + i * s.C + h * s.HS;
    const float p = expf(warp_dot(k, q, s.HS, lane) * s.scale - lse[h * s.N + i]);
    const float m = dropout_scale(s, key, h, i, j);
    const float dp = warp_dot(v, dO, s.HS, lane);
    const float ds = p * (m * dp - D[h * s.N + i]);
    for (int64_t d = lane; d < s.HS; d += WARP_SIZE) {
      dv[d] += p * m * dO[d];
      dk[d] += ds * q[d];
    }
  }
  float* dk_global = dqkv + j * 3 * s.C + s.C + h * s.HS;
  float* dv_global = dk_global + s.C;
  for (int64_t d = lane; d < s.HS; d += WARP_SIZE) {
    dk_global[d] += s.scale * dk[d];
    dv_global[d] += dv[d];
  }
}

}  // namespace
}  // namespace masklm::cuda
