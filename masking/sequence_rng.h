// The random draws of one sequence: Philox stream (seed, step, rank, MASKING, substream)
// with the sequence index in the high bits of the draw counter, so sequences, steps and
// ranks never share draws and any one sequence can be masked alone (data-parallel
// workers, resume, tests).
#pragma once

#include <cstdint>

#include "runtime/error.h"
#include "runtime/philox.h"

namespace masklm {

class SequenceRng {
 public:
  // 2^34 draws per sequence, 2^30 sequences per (step, rank, substream).
  static constexpr int kDrawBits = 34;

  SequenceRng(const RngKey& key, uint64_t sequence) : key_(key), next_(sequence << kDrawBits) {
    MASKLM_CHECK(key.stream == RngStream::MASKING,
                 "masking draws from RngStream::MASKING, got stream {}",
                 static_cast<uint32_t>(key.stream));
    MASKLM_CHECK(sequence < (uint64_t{1} << (64 - kDrawBits)), "sequence index {} too large",
                 sequence);
  }

  uint32_t next_u32() { return philox_u32(key_, next_++); }

  // Uniform in [0, 1) with 53 random bits, fine enough for cumulative tables over a
  // 250k-token vocabulary.
  double next_uniform() {
    const uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;  // 27 + 26 bits
    return static_cast<double>((hi << 26) | lo) * 0x1p-53;
  }

  // Uniform in [0, n) by multiply-shift (Lemire); the bias, at most n / 2^32, is far
  // below anything a masking statistic can see.
  uint32_t next_below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32);
  }

 private:
  RngKey key_;
  uint64_t next_;
};

}  // namespace masklm
