// MLM batches from a prepared corpus: packed sequences (data/packed_dataset.h) in the
// shuffled order of data/sequence_order.h, masked on the fly by a Masker. The batch of step
// s is sequences [s·S, (s+1)·S) of the order (S sequences per step); micro-batch m holds
// [m·M, (m+1)·M) of them. Sequence j of a step is masked with key (seed, step, MASKING) and
// sequence index j, so neither the sequences nor their masks depend on how a step is split
// into micro-batches or over data-parallel ranks (each reads its own micro-batches), and
// any step is computed directly from its number (resume needs no cursor).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "data/packed_dataset.h"
#include "data/sequence_order.h"
#include "masking/masker.h"
#include "train/batch_source.h"

namespace masklm {

struct MlmSourceOptions {
  int64_t micro_batch_size = 0;  // sequences per micro-batch (M)
  int64_t micro_steps = 1;       // micro-batches per step: S = M · micro_steps
  int64_t total_steps = 0;       // horizon of the masking-rate schedule
  uint64_t seed = 0;             // data order and masking
  // Validation: the same rates at every step (e.g. the fixed evaluation rate) instead of
  // the masker's schedule.
  std::optional<MaskRates> fixed_rates;
};

class MlmBatchSource : public BatchSource {
 public:
  MlmBatchSource(std::shared_ptr<const PackedDataset> data, std::shared_ptr<const Masker> masker,
                 MlmSourceOptions options);

  Batch batch(int64_t step, int64_t micro) const override;

  const PackedDataset& data() const { return *data_; }
  // Steps per epoch (the last partial step of an epoch runs into the next).
  double steps_per_epoch() const;

 private:
  std::shared_ptr<const PackedDataset> data_;
  std::shared_ptr<const Masker> masker_;
  MlmSourceOptions options_;
  SequenceOrder order_;
};

}  // namespace masklm
