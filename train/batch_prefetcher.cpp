#include "train/batch_prefetcher.h"

#include "runtime/error.h"

namespace masklm {

BatchPrefetcher::BatchPrefetcher(const BatchSource& source, int64_t first, int64_t count)
    : source_(source), first_(first), count_(count) {
  MASKLM_CHECK(first >= 0 && count > 0, "micro-batches [{}, {}) of a step to prefetch", first,
               first + count);
}

std::vector<Batch> BatchPrefetcher::build(int64_t step) const {
  std::vector<Batch> batches;
  batches.reserve(static_cast<size_t>(count_));
  for (int64_t k = 0; k < count_; ++k) batches.push_back(source_.batch(step, first_ + k));
  return batches;
}

std::vector<Batch> BatchPrefetcher::take(int64_t step) {
  std::vector<Batch> batches;
  if (ahead_.valid() && ahead_step_ == step) {
    batches = ahead_.get();  // throws what the build threw
  } else {
    // A build for another step is waited for (it reads the source) and dropped, with any
    // error it met.
    if (ahead_.valid()) ahead_.wait();
    batches = build(step);
  }
  ahead_step_ = step + 1;
  ahead_ = std::async(std::launch::async, [this, next = step + 1] { return build(next); });
  return batches;
}

}  // namespace masklm
