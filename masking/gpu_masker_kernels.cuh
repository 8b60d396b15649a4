// The uniform masking kernel (masking/gpu_masker.h): one thread per sequence runs the CPU
// Masker's steps for one-token units (masking/masker.cpp) in the same order, with the same
// draws and the same double arithmetic, so the results match bit for bit. Launched by
// gpu_masker.cu; a header so that tests/emulation also compiles it for the CPU
// (cuda_emulator.h).
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "masking/masker.h"
#include "masking/sequence_rng.h"

namespace masklm {
namespace {

struct MaskArgs {
  const int32_t* ids;
  const int32_t* cu_seqlens;
  int64_t sequences, tokens;
  int32_t *input, *predicted, *corruption;
  int32_t* order;  // (N) scratch: each sequence's eligible positions, then their priority order
  const int32_t* is_special;
  int32_t vocab_size, mask_id;
  const int32_t* replacement_ids;
  const double* replacement_cdf;
  int64_t replacements;
  double predict_rate, corrupt_rate, random_share;
  RngKey key;
  uint64_t first_sequence;
  int* error_flag;
};

constexpr int32_t kNone = static_cast<int32_t>(Corruption::NONE);
constexpr int32_t kMask = static_cast<int32_t>(Corruption::MASK);
constexpr int32_t kRandom = static_cast<int32_t>(Corruption::RANDOM);

// ReplacementSampler::draw: the id of the first cumulative probability above u (the table
// ends at exactly 1 > u).
__device__ int32_t draw_replacement(const MaskArgs& a, double u) {
  int64_t lo = 0, hi = a.replacements;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (a.replacement_cdf[mid] <= u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return a.replacement_ids[lo];
}

// One sequence per thread; Masker::mask step by step.
__global__ void uniform_mask_kernel(const MaskArgs a) {
  const int64_t b = cuda::global_thread_index();
  if (b >= a.sequences) return;
  const int32_t begin = a.cu_seqlens[b], end = a.cu_seqlens[b + 1];
  if (begin < 0 || end < begin || end > a.tokens) {
    cuda::raise_device_error(a.error_flag, DeviceError::BAD_CU_SEQLENS);
    return;
  }
  // Units in position order: the non-special tokens.
  int32_t* order = a.order + begin;
  uint32_t n = 0;
  for (int32_t t = begin; t < end; ++t) {
    const int32_t id = a.ids[t];
    a.input[t] = id;
    a.predicted[t] = 0;
    a.corruption[t] = kNone;
    if (id < 0 || id >= a.vocab_size) {
      cuda::raise_device_error(a.error_flag, DeviceError::INDEX_OUT_OF_RANGE);
      continue;
    }
    if (!a.is_special[id]) order[n++] = t;
  }
  SequenceDraws rng{a.key, (a.first_sequence + static_cast<uint64_t>(b)) << kSequenceDrawBits};

  // Priority order over units (Fisher-Yates).
  for (uint32_t i = n; i > 1; --i) {
    const uint32_t j = rng.next_below(i);
    const int32_t swapped = order[i - 1];
    order[i - 1] = order[j];
    order[j] = swapped;
  }
  const double predict_target = static_cast<double>(n) * a.predict_rate;
  const double corrupt_target = static_cast<double>(n) * a.corrupt_rate;
  const double cut = rng.next_uniform();
  constexpr double kUnitLength = 1;  // the CPU divides by the unit's length
  int64_t before = 0;
  for (uint32_t k = 0; k < n; ++k, ++before) {
    if (before >= predict_target && before >= corrupt_target) break;
    const int32_t t = order[k];
    a.predicted[t] = cut < (predict_target - static_cast<double>(before)) / kUnitLength;
    if (cut < (corrupt_target - static_cast<double>(before)) / kUnitLength) a.corruption[t] = kMask;
  }

  // Replacements in position order.
  for (int32_t t = begin; t < end; ++t) {
    if (a.corruption[t] == kNone) continue;
    if (rng.next_uniform() < a.random_share) {
      a.corruption[t] = kRandom;
      a.input[t] = draw_replacement(a, rng.next_uniform());
    } else {
      a.input[t] = a.mask_id;
    }
  }
}

// 128 threads: a batch has tens to hundreds of sequences, so this is one or two blocks.
constexpr int kThreads = 128;

}  // namespace
}  // namespace masklm
