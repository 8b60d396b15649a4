// The random draws of one sequence: Philox stream (seed, step, rank, MASKING, substream)
// with the sequence index in the high bits of the draw counter, so sequences and steps
// never share draws and any one sequence can be masked alone (data-parallel ranks, resume,
// tests, the GPU masker). Training keys by the sequence's place in the global step, with
// rank 0, so a step's masks do not depend on how many ranks share it.
#pragma once

#include <cstdint>

#include "runtime/error.h"
#include "runtime/philox.h"

namespace masklm {

// 2^34 draws per sequence, 2^30 sequences per (step, rank, substream).
constexpr int kSequenceDrawBits = 34;

// The draws themselves, on the host and in CUDA kernels alike (masking/gpu_masker.cu),
// from the counter `next` on.
struct SequenceDraws {
  RngKey key;
  uint64_t next = 0;

  MASKLM_HD uint32_t next_u32() { return philox_u32(key, next++); }

  // Uniform in [0, 1) with 53 random bits, fine enough for cumulative tables over a
  // 250k-token vocabulary.
  MASKLM_HD double next_uniform() {
    const uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;  // 27 + 26 bits
    return static_cast<double>((hi << 26) | lo) * 0x1p-53;
  }

  // Uniform in [0, n) by multiply-shift (Lemire); the bias, at most n / 2^32, is far
  // below anything a masking statistic can see.
  MASKLM_HD uint32_t next_below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32);
  }
};

// The first draw of `sequence` under `key`, checked.
inline SequenceDraws sequence_draws(const RngKey& key, uint64_t sequence) {
  MASKLM_CHECK(key.stream == RngStream::MASKING,
               "masking draws from RngStream::MASKING, got stream {}",
               static_cast<uint32_t>(key.stream));
  MASKLM_CHECK(sequence < (uint64_t{1} << (64 - kSequenceDrawBits)), "sequence index {} too large",
               sequence);
  return SequenceDraws{key, sequence << kSequenceDrawBits};
}

class SequenceRng : public SequenceDraws {
 public:
  SequenceRng(const RngKey& key, uint64_t sequence)
      : SequenceDraws(sequence_draws(key, sequence)) {}
};

}  // namespace masklm
