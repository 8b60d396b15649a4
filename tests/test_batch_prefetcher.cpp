// BatchPrefetcher: a step's micro-batches are the source's, whether built ahead on the
// worker thread or now; the next step's are built on another thread; a step the trainer
// jumps to (a resume) is built afresh; errors surface at the take() of their step.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "expect_error.h"
#include "runtime/error.h"
#include "train/batch_prefetcher.h"

namespace masklm {
namespace {

// Micro-batch (step, micro) is one sequence of the tokens [step, micro]; remembers which
// thread built which step. Steps in `failing` throw.
class RecordingSource : public BatchSource {
 public:
  explicit RecordingSource(std::set<int64_t> failing = {}) : failing_(std::move(failing)) {}

  Batch batch(int64_t step, int64_t micro) const override {
    {
      const std::lock_guard lock(mutex_);
      builders_.push_back({step, std::this_thread::get_id()});
    }
    MASKLM_CHECK(!failing_.contains(step), "step {} cannot be read", step);
    Batch b;
    b.add_sequence(std::vector<int32_t>{static_cast<int32_t>(step), static_cast<int32_t>(micro)});
    return b;
  }

  // The threads that built `step` (one entry per micro-batch built).
  std::vector<std::thread::id> builders(int64_t step) const {
    const std::lock_guard lock(mutex_);
    std::vector<std::thread::id> out;
    for (const auto& [s, id] : builders_)
      if (s == step) out.push_back(id);
    return out;
  }

 private:
  std::set<int64_t> failing_;
  mutable std::mutex mutex_;
  mutable std::vector<std::pair<int64_t, std::thread::id>> builders_;
};

void expect_batches_of(const std::vector<Batch>& batches, int64_t step, int64_t first) {
  ASSERT_EQ(batches.size(), 2u);
  for (size_t k = 0; k < batches.size(); ++k)
    EXPECT_EQ(batches[k].tokens,
              (std::vector<int32_t>{static_cast<int32_t>(step), static_cast<int32_t>(first + k)}))
        << "step " << step << " micro-batch " << k;
}

TEST(BatchPrefetcher, TheNextStepIsBuiltOnAnotherThread) {
  const RecordingSource source;
  BatchPrefetcher prefetcher(source, 3, 2);  // micro-batches 3 and 4, as rank 1 of 2 reads
  expect_batches_of(prefetcher.take(0), 0, 3);
  expect_batches_of(prefetcher.take(1), 1, 3);
  expect_batches_of(prefetcher.take(2), 2, 3);
  const std::thread::id caller = std::this_thread::get_id();
  EXPECT_EQ(source.builders(0), (std::vector{caller, caller}));  // nothing built ahead yet
  for (int64_t step : {1, 2}) {
    const std::vector<std::thread::id> builders = source.builders(step);
    ASSERT_EQ(builders.size(), 2u) << "step " << step << " was built more than once";
    EXPECT_NE(builders[0], caller) << "step " << step;
  }
}

TEST(BatchPrefetcher, AStepJumpedToIsBuiltAfresh) {
  const RecordingSource source;
  BatchPrefetcher prefetcher(source, 0, 2);
  prefetcher.take(4);                               // builds 5 ahead
  expect_batches_of(prefetcher.take(9), 9, 0);      // a resume at 9: 5 is dropped
  expect_batches_of(prefetcher.take(10), 10, 0);
  expect_batches_of(prefetcher.take(10), 10, 0);    // again: 11 was built ahead, 10 is rebuilt
  EXPECT_EQ(source.builders(9).front(), std::this_thread::get_id());
}

TEST(BatchPrefetcher, AnErrorIsThrownByTheTakeOfItsStep) {
  const RecordingSource source({2, 7});
  BatchPrefetcher prefetcher(source, 0, 2);
  prefetcher.take(1);  // step 2 fails on the worker thread
  testing::expect_error([&] { prefetcher.take(2); }, "step 2 cannot be read");
  prefetcher.take(6);  // step 7 fails ahead, but the trainer goes elsewhere
  expect_batches_of(prefetcher.take(3), 3, 0);
}

}  // namespace
}  // namespace masklm
