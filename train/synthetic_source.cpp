#include "train/synthetic_source.h"

#include "runtime/error.h"

namespace masklm {

SyntheticSource::SyntheticSource(const SyntheticTask& task, int64_t micro_batch_size)
    : task_(task), micro_batch_size_(micro_batch_size) {
  MASKLM_CHECK(micro_batch_size > 0 && task.sequences % micro_batch_size == 0,
               "micro-batch size {} must divide the synthetic batch of {} sequences",
               micro_batch_size, task.sequences);
}

Batch SyntheticSource::batch(int64_t step, int64_t micro) const {
  MASKLM_CHECK(micro >= 0 && micro < task_.sequences / micro_batch_size_,
               "micro-batch {} out of range", micro);
  return task_.batch(step, micro * micro_batch_size_, micro_batch_size_);
}

}  // namespace masklm
