#include "data/sequence_order.h"

#include <utility>

#include "runtime/error.h"
#include "runtime/philox.h"

namespace masklm {

namespace {

// Four rounds of a balanced Feistel network with Philox as the round function give a
// pseudo-random permutation (Luby-Rackoff); more rounds buy nothing measurable here.
constexpr uint32_t kFeistelRounds = 4;

}  // namespace

SequenceOrder::SequenceOrder(int64_t num_sequences, uint64_t seed) : n_(num_sequences), seed_(seed) {
  MASKLM_CHECK(num_sequences >= 1, "no packed sequences to order");
  MASKLM_CHECK(num_sequences < (int64_t{1} << 62), "{} sequences are too many to order", num_sequences);
  half_bits_ = 1;
  while ((int64_t{1} << (2 * half_bits_)) < n_) ++half_bits_;
}

int64_t SequenceOrder::permuted(int64_t epoch, int64_t i) const {
  MASKLM_CHECK(0 <= i && i < n_, "position {} outside [0, {})", i, n_);
  MASKLM_CHECK(0 <= epoch && epoch <= int64_t{UINT32_MAX}, "epoch {} out of range", epoch);
  const uint64_t mask = (uint64_t{1} << half_bits_) - 1;
  RngKey key{seed_, static_cast<uint32_t>(epoch), 0, RngStream::DATA_ORDER, 0};
  auto x = static_cast<uint64_t>(i);
  // Cycle walking: permute the power-of-4 domain until the value lands in [0, n). The
  // domain is under 4n, so this takes fewer than 4 rounds on average, and it is a
  // bijection on [0, n) because the walk follows the cycles of the larger permutation.
  do {
    uint64_t left = x >> half_bits_, right = x & mask;
    for (uint32_t round = 0; round < kFeistelRounds; ++round) {
      key.substream = round;
      const uint64_t f = philox_u32(key, right) & mask;
      left = std::exchange(right, left ^ f);
    }
    x = (left << half_bits_) | right;
  } while (x >= static_cast<uint64_t>(n_));
  return static_cast<int64_t>(x);
}

int64_t SequenceOrder::at(int64_t k) const {
  MASKLM_CHECK(k >= 0, "sequence position {} is negative", k);
  return permuted(k / n_, k % n_);
}

}  // namespace masklm
