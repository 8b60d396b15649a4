// The synthetic task (train/synthetic_task.h) as a BatchSource: micro-batch `micro` of step
// `step` holds sequences [micro * m, (micro + 1) * m) of the step's batch, so the global
// batch does not depend on how it is split into micro-batches.
#pragma once

#include "train/batch_source.h"
#include "train/synthetic_task.h"

namespace masklm {

class SyntheticSource : public BatchSource {
 public:
  SyntheticSource(const SyntheticTask& task, int64_t micro_batch_size);
  Batch batch(int64_t step, int64_t micro) const override;

 private:
  SyntheticTask task_;
  int64_t micro_batch_size_;
};

}  // namespace masklm
