// A synthetic MLM task for the demo, CI and the training test, needing no data files.
//
// Each sequence repeats a random motif of `period` tokens (t_i = motif[i % period]);
// lengths vary in [seq_len / 2, seq_len]; token 0 is [MASK]. Every token is uniform over
// the V - 1 ordinary ids, so a predictor that ignores context cannot beat ln(V - 1) nats,
// while a masked token equals its visible neighbours `period` positions away, so a model
// that attends by relative position can approach 0.
#pragma once

#include <cstdint>

#include "model/batch.h"

namespace masklm {

struct SyntheticTask {
  int64_t vocab_size = 64;  // V, including [MASK] = 0
  int64_t seq_len = 32;
  int64_t sequences = 16;   // per batch
  int64_t period = 3;       // motif length
  double mask_rate = 0.15;  // fraction of each sequence masked and predicted (at least one)
  uint64_t seed = 0;

  static constexpr int32_t kMaskToken = 0;

  // The batch of training step `step`: deterministic in (seed, step).
  Batch batch(int64_t step) const { return batch(step, 0, sequences); }
  // Sequences [first, first + count) of step `step`. Each sequence draws from its own
  // stream, so a batch split into micro-batches holds the same sequences as the whole.
  Batch batch(int64_t step, int64_t first, int64_t count) const;
};

}  // namespace masklm
