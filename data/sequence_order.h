// The order in which each rank sees the packed sequences. Every epoch is a fresh
// pseudo-random permutation of all sequences, dealt round-robin to the ranks: rank r gets
// positions r, r + W, r + 2W, ... of it. Any position is computed directly from
// (seed, epoch, rank, world_size) in O(1), with no table and no state, so resuming at a
// step needs only the step number (train/batch_source.h).
#pragma once

#include <cstdint>

namespace masklm {

class SequenceOrder {
 public:
  SequenceOrder(int64_t num_sequences, uint64_t seed, int rank, int world_size);

  // Sequences each rank sees per epoch. The last num_sequences % world_size positions of
  // an epoch's permutation are left out, so all ranks step in lockstep; the permutation
  // changes every epoch, so no sequence is left out for good.
  int64_t per_rank_epoch() const { return per_rank_epoch_; }
  // The k-th sequence this rank sees (k counts on across epochs).
  int64_t at(int64_t k) const;
  // Position i of epoch `epoch`'s permutation of [0, num_sequences): a bijection, the same
  // on every rank.
  int64_t permuted(int64_t epoch, int64_t i) const;

 private:
  int64_t n_;
  uint64_t seed_;
  int rank_, world_size_;
  int64_t per_rank_epoch_;
  int half_bits_;  // the Feistel network permutes [0, 4^half_bits) >= [0, n)
};

}  // namespace masklm
