// The order in which training sees the packed sequences. Every epoch is a fresh
// pseudo-random permutation of all sequences. Any position is computed directly from
// (seed, epoch) in O(1), with no table and no state, so resuming at a step needs only the
// step number (train/batch_source.h). Data-parallel ranks share this one order: each reads
// its own micro-batches of every step (docs/distributed.md).
#pragma once

#include <cstdint>

namespace masklm {

class SequenceOrder {
 public:
  SequenceOrder(int64_t num_sequences, uint64_t seed);

  // Sequences per epoch.
  int64_t epoch_length() const { return n_; }
  // The k-th sequence of the order (k counts on across epochs).
  int64_t at(int64_t k) const;
  // Position i of epoch `epoch`'s permutation of [0, num_sequences): a bijection.
  int64_t permuted(int64_t epoch, int64_t i) const;

 private:
  int64_t n_;
  uint64_t seed_;
  int half_bits_;  // the Feistel network permutes [0, 4^half_bits) >= [0, n)
};

}  // namespace masklm
