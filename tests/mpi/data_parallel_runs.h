// What the data-parallel tests share (test_mpi_data_parallel.cpp on CPU ranks,
// test_nccl_data_parallel.cpp on GPU ranks): a short run of the synthetic task with its
// per-step losses and final parameters, the relative error between two runs, and the rank
// that hangs in the hung-peer cases.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "train/comm.h"
#include "trainer_fixture.h"

namespace masklm::testing {

// The rank MASKLM_TEST_HANG_RANK names, or -1: the hung-peer cases run only under
// tests/mpi/job_ends.cmake, which sets it.
inline int rank_told_to_hang() {
  const char* rank = std::getenv("MASKLM_TEST_HANG_RANK");
  return rank ? std::atoi(rank) : -1;
}
// Never returns: the peer that stops answering (mpiexec kills it when the job ends).
[[noreturn]] inline void hang() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

struct RunResult {
  std::vector<float> params;
  std::vector<double> losses;
};

inline RunResult train(const std::vector<std::string>& overrides, std::shared_ptr<Comm> comm,
                       TrainerHooks hooks = {}, Device device = Device::CPU) {
  auto run = small_run(overrides);
  RunResult out;
  hooks.on_step = [&](const StepResult& r) { out.losses.push_back(r.loss); };
  Trainer trainer(run.config, *run.data.train, nullptr, {}, hooks, nullptr, std::move(comm),
                  device);
  trainer.run();
  out.params = param_snapshot(trainer.model());
  return out;
}

// max |a - b| / max |b|, the relative error of the whole parameter vector.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

// `two` ranks' run against `one` rank's with twice the micro-batch: parameters within
// `bound` relative error (printed, with `what`), and each step's loss within `bound` of its
// own.
inline void expect_two_ranks_match_one(const RunResult& two, const RunResult& one, double bound,
                                       const std::string& what) {
  const double err = relative_error(two.params, one.params);
  std::printf("%s: relative parameter error %.3g\n", what.c_str(), err);
  EXPECT_LE(err, bound);
  ASSERT_EQ(two.losses.size(), one.losses.size());
  for (size_t i = 0; i < one.losses.size(); ++i)
    EXPECT_NEAR(two.losses[i], one.losses[i], bound * one.losses[i]) << "step " << i;
}

}  // namespace masklm::testing
