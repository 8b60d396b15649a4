// What the data-parallel tests share (test_mpi_data_parallel.cpp on CPU ranks,
// test_nccl_data_parallel.cpp on GPU ranks): a short run of the synthetic task with its
// per-step losses and final parameters, and the relative error between two runs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/comm.h"
#include "trainer_fixture.h"

namespace masklm::testing {

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

}  // namespace masklm::testing
