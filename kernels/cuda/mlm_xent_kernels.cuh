// The kernels of mlm_xent.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per block, one row each
constexpr int kThreads = 256;

// The running state of one row across chunks.
struct OnlineRow {
  float max, sum, label_logit;
  int32_t argmax;
};

// Both kernels run with W = 1 (scalar loads) or W = kPackWidth<T> (16-byte packs, when the
// tile's rows fit them: rows_fit_packs(cv, tile)); a lane's columns still come in
// increasing order, which the first-argmax rule below relies on.

// One warp per row of the chunk tile (P, cv), covering vocabulary [v0, v0 + cv).
template <typename T, int W>
__global__ void xent_fold_chunk_kernel(OnlineRow* rows, const T* tile, const int32_t* labels,
                                       int64_t P, int64_t cv, int64_t v0, int64_t V, bool last,
                                       float* losses, float* lse, int32_t* correct,
                                       int* error_flag) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t p = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (p >= P) return;
  const T* logits = tile + p * cv;
  // The chunk's max and its first position: each lane scans its columns in increasing order
  // with a strict >, then the warp keeps the larger value, and the smaller index on ties.
  float best = -INFINITY;
  int64_t best_at = cv;
  for (int64_t c = lane * W; c < cv; c += WARP_SIZE * W) {
    float x[W];
    load_pack<T, W>(x, logits + c);
#pragma unroll
    for (int i = 0; i < W; ++i)
      if (x[i] > best) best = x[i], best_at = c + i;
  }
  for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(kFullWarpMask, best, offset);
    const int64_t other_at = __shfl_xor_sync(kFullWarpMask, best_at, offset);
    if (other > best || (other == best && other_at < best_at)) best = other, best_at = other_at;
  }
  OnlineRow row = v0 == 0 ? OnlineRow{-INFINITY, 0.0f, 0.0f, -1} : rows[p];
  const float new_max = fmaxf(row.max, best);
  float chunk_sum = 0.0f;
  for (int64_t c = lane * W; c < cv; c += WARP_SIZE * W) {
    float x[W];
    load_pack<T, W>(x, logits + c);
#pragma unroll
    for (int i = 0; i < W; ++i) chunk_sum += expf(x[i] - new_max);
  }
  chunk_sum = warp_sum(chunk_sum);
  // Strict > keeps the first maximum across chunks too, as argmax conventionally does.
  if (best > row.max) row.argmax = static_cast<int32_t>(v0 + best_at);
  row.sum = row.sum * expf(row.max - new_max) + chunk_sum;  // rescale the old sum to the new max
  row.max = new_max;
  const int32_t label = labels[p];
  if (v0 <= label && label < v0 + cv) row.label_logit = to_float(logits[label - v0]);
  if (lane != 0) return;
  if (!last) {
    rows[p] = row;
    return;
  }
  if (label < 0 || label >= V) raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
  lse[p] = row.max + logf(row.sum);
  losses[p] = lse[p] - row.label_logit;
  if (correct) correct[p] = row.argmax == label ? 1 : 0;
}

// tile (P, cv) of logits becomes dlogits = loss_scale * softmax - loss_scale * onehot(label),
// W values (one pack, never straddling rows: cv is a multiple of W) per step.
template <typename T, int W>
__global__ void xent_dlogits_kernel(T* tile, const float* lse, const int32_t* labels, int64_t P,
                                    int64_t cv, int64_t v0, int64_t V, float loss_scale,
                                    int* error_flag) {
  for (int64_t idx = global_thread_index() * W; idx < P * cv; idx += global_thread_count() * W) {
    const int64_t p = idx / cv, c = idx % cv;
    const int32_t label = labels[p];
    if (c == 0 && v0 == 0 && (label < 0 || label >= V))
      raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
    float d[W];
    load_pack<T, W>(d, tile + idx);
#pragma unroll
    for (int i = 0; i < W; ++i) {
      d[i] = loss_scale * expf(d[i] - lse[p]);
      if (label == v0 + c + i) d[i] -= loss_scale;
    }
    store_pack<T, W>(tile + idx, d);
  }
}

// dh += sum, rounded once: the 16-bit dh gets the fp32 sum of every chunk's product.
template <typename T> __global__ void add_fp32_sum_kernel(T* dh, const float* sum, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    dh[i] = from_float<T>(to_float(dh[i]) + sum[i]);
}

}  // namespace
}  // namespace masklm::cuda
