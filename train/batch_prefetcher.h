// A step's micro-batches, built ahead on a worker thread while the step before computes.
// A step's batches are a pure function of its number (train/batch_source.h), so building
// them early changes nothing but when the host spends the time. Without it a GPU waits at
// the start of every step while the host reads and masks the step's micro-batches (0.5 to
// 1 ms of one core per 16k tokens: bench/bench_cpu_batches.cpp, against some 15 ms of GPU
// for those tokens at BERT-base, estimated from the FLOPs at half an H100's peak).
#pragma once

#include <cstdint>
#include <future>
#include <vector>

#include "train/batch_source.h"

namespace masklm {

class BatchPrefetcher {
 public:
  // Micro-batches [first, first + count) of each step of `source`, which must outlive this
  // (the destructor waits for a build in flight).
  BatchPrefetcher(const BatchSource& source, int64_t first, int64_t count);
  BatchPrefetcher(const BatchPrefetcher&) = delete;  // a build in flight holds `this`
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // Step `step`'s micro-batches, built ahead if they were that step's (else now, e.g.
  // after a resume moved the step); then starts building step + 1's. An error building a
  // step is thrown by the take() of that step.
  std::vector<Batch> take(int64_t step);

  // The micro-batches [first(), first() + count()) of every step that this builds.
  int64_t first() const { return first_; }
  int64_t count() const { return count_; }

 private:
  std::vector<Batch> build(int64_t step) const;

  const BatchSource& source_;
  int64_t first_, count_;
  int64_t ahead_step_ = -1;
  std::future<std::vector<Batch>> ahead_;
};

}  // namespace masklm
