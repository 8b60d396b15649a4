// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). Stateless: the same
// (key, counter) gives the same four words on CPU and GPU, so every random draw in masklm
// (dropout, masking, init) is reproducible from (seed, step, rank, stream) and an index,
// and resume needs no generator state beyond the step.
#pragma once

#include <array>
#include <cstdint>

#include "runtime/host_device.h"

namespace masklm {

struct PhiloxCounter {
  uint32_t c[4];
};
struct PhiloxKey {
  uint32_t k[2];
};

MASKLM_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Philox4x32's multipliers and key increments (Weyl sequence), and its round count.
inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

MASKLM_HD PhiloxCounter philox4x32_10(PhiloxCounter ctr, PhiloxKey key) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      key.k[0] += kPhiloxW0;
      key.k[1] += kPhiloxW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kPhiloxM0, ctr.c[0], hi0, lo0);
    philox_mulhilo(kPhiloxM1, ctr.c[2], hi1, lo1);
    ctr = PhiloxCounter{{hi1 ^ ctr.c[1] ^ key.k[0], lo1, hi0 ^ ctr.c[3] ^ key.k[1], lo0}};
  }
  return ctr;
}

// Which random stream a draw belongs to. Streams never overlap within a run: the seed and
// rank form the key, the stream, substream and step are part of the counter, and `index`
// counts draws within a stream (64 bits, so attention dropout over N x N scores fits).
enum class RngStream : uint32_t {
  INIT = 1,
  HIDDEN_DROPOUT = 2,
  ATTENTION_DROPOUT = 3,
  MASKING = 4,
  DATA_ORDER = 5,
};

struct RngKey {
  uint64_t seed = 0;
  uint32_t step = 0;
  uint32_t rank = 0;
  RngStream stream = RngStream::INIT;
  uint32_t substream = 0;  // below 2^24: e.g. a layer or a sequence index
};

// The Philox key and counter of draw block `block` of a stream (draw i lives in block i / 4).
MASKLM_HD PhiloxKey philox_key(const RngKey& key) {
  // XOR with the rank is injective for a fixed seed, so ranks of one run never share a key.
  return PhiloxKey{
      {static_cast<uint32_t>(key.seed) ^ key.rank, static_cast<uint32_t>(key.seed >> 32)}};
}
MASKLM_HD PhiloxCounter philox_counter(const RngKey& key, uint64_t block) {
  const uint32_t id = (static_cast<uint32_t>(key.stream) << 24) | (key.substream & 0xFFFFFFu);
  return PhiloxCounter{
      {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), key.step, id}};
}

// Four random words for draw block `block` of a stream.
MASKLM_HD PhiloxCounter philox_block(const RngKey& key, uint64_t block) {
  return philox4x32_10(philox_counter(key, block), philox_key(key));
}

// Draw i of a stream as a word.
MASKLM_HD uint32_t philox_u32(const RngKey& key, uint64_t i) {
  return philox_block(key, i >> 2).c[i & 3];
}

// A word mapped to a float uniform in [0, 1) with 24 random bits (exactly representable).
MASKLM_HD float u32_to_uniform(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

MASKLM_HD float philox_uniform(const RngKey& key, uint64_t i) { return u32_to_uniform(philox_u32(key, i)); }

}  // namespace masklm
