// LossScaler (train/loss_scaler.h): overflow backs off and skips, a run of good steps grows
// the scale, both clamp at their limits, and the state survives a checkpoint round trip;
// found_inf sees an inf or a nan anywhere in the gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "expect_error.h"
#include "kernels/ops.h"
#include "train/loss_scaler.h"

namespace masklm {
namespace {

using testing::expect_error;

LossScalerConfig small_config() {
  return LossScalerConfig{.initial_scale = 1024.0,
                          .growth_factor = 2.0,
                          .backoff_factor = 0.5,
                          .growth_interval = 3,
                          .min_scale = 256.0,
                          .max_scale = 4096.0};
}

TEST(LossScaler, OverflowHalvesTheScaleAndSkipsTheStep) {
  LossScaler scaler(small_config());
  EXPECT_FALSE(scaler.update(false));
  EXPECT_TRUE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 512.0);
  EXPECT_EQ(scaler.good_steps(), 0);  // an overflow restarts the run of good steps
}

TEST(LossScaler, GrowthIntervalGoodStepsDoubleTheScale) {
  LossScaler scaler(small_config());
  EXPECT_FALSE(scaler.update(false));
  EXPECT_FALSE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 1024.0);
  EXPECT_FALSE(scaler.update(false));
  EXPECT_EQ(scaler.scale(), 2048.0);
  EXPECT_EQ(scaler.good_steps(), 0);
  // An overflow in the middle of a run restarts it.
  scaler.update(false);
  scaler.update(true);
  scaler.update(false);
  scaler.update(false);
  EXPECT_EQ(scaler.scale(), 1024.0);
  scaler.update(false);
  EXPECT_EQ(scaler.scale(), 2048.0);
}

// Non-finite gradients are fp16's overflow while the scale can back off, and the run's
// divergence once it is at its minimum (256 here, two halvings from 1024).
TEST(LossScaler, OverflowAtScaleIsTheScalesDoingUntilTheMinimum) {
  LossScaler scaler(small_config());
  EXPECT_FALSE(scaler.overflowed_at_scale(false));
  EXPECT_TRUE(scaler.overflowed_at_scale(true));
  EXPECT_TRUE(scaler.overflowed_at_scale(true));
  EXPECT_EQ(scaler.scale(), 256.0);
  EXPECT_FALSE(scaler.overflowed_at_scale(true));
  EXPECT_EQ(scaler.scale(), 256.0);
}

TEST(LossScaler, ScaleClampsAtMinAndMax) {
  LossScaler scaler(small_config());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 256.0);
  for (int i = 0; i < 30; ++i) scaler.update(false);
  EXPECT_EQ(scaler.scale(), 4096.0);
}

TEST(LossScaler, StateRoundTripsThroughACheckpoint) {
  LossScaler scaler(small_config());
  scaler.update(true);
  scaler.update(false);
  scaler.update(false);
  const nlohmann::json saved = nlohmann::json::parse(scaler.state().dump());

  LossScaler resumed(small_config());
  resumed.restore(saved);
  EXPECT_EQ(resumed.scale(), 512.0);
  EXPECT_EQ(resumed.good_steps(), 2);
  // One more good step completes the run exactly as it would have without the resume.
  resumed.update(false);
  scaler.update(false);
  EXPECT_EQ(resumed.scale(), 1024.0);
  EXPECT_EQ(resumed.scale(), scaler.scale());
}

TEST(LossScaler, RejectsBadConfigsAndStates) {
  expect_error([] { LossScaler{LossScalerConfig{.backoff_factor = 1.0}}; }, "backoff_factor");
  expect_error([] { LossScaler{LossScalerConfig{.growth_factor = 1.0}}; }, "growth_factor");
  expect_error([] { LossScaler{LossScalerConfig{.growth_interval = 0}}; }, "growth_interval");
  expect_error([] { LossScaler{LossScalerConfig{.initial_scale = 0.5}}; }, "initial_scale");
  LossScaler scaler(small_config());
  expect_error([&] { scaler.restore({{"scale", 1e9}, {"good_steps", 0}}); }, "saved scale");
  expect_error([&] { scaler.restore({{"scale", 512.0}, {"good_steps", 3}}); }, "good_steps");
  // A corrupt state is a masklm::Error naming the key, not a json exception.
  expect_error([&] { scaler.restore(nlohmann::json::object()); },
               "'loss_scaler.scale' is required");
  expect_error([&] { scaler.restore({{"scale", 512.0}}); }, "'loss_scaler.good_steps' is required");
  expect_error([&] { scaler.restore({{"scale", "big"}, {"good_steps", 0}}); },
               {"'loss_scaler.scale'", "number"});
  expect_error([&] { scaler.restore({{"scale", 512.0}, {"good_steps", 1.5}}); },
               {"'loss_scaler.good_steps'", "integer"});
  expect_error([&] { scaler.restore(nlohmann::json::array()); }, "'loss_scaler'");
}

TEST(LossScaler, FoundInfSeesInfAndNanButNotLargeFiniteGradients) {
  Ctx cpu;
  std::vector<float> grads(1000, 3e38f);  // squares overflow float, not the double sum
  EXPECT_FALSE(found_inf(cpu, host_tensor(grads)));
  grads[517] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(found_inf(cpu, host_tensor(grads)));
  grads[517] = -std::numeric_limits<float>::infinity();
  EXPECT_TRUE(found_inf(cpu, host_tensor(grads)));
  grads[517] = std::nanf("");
  EXPECT_TRUE(found_inf(cpu, host_tensor(grads)));
}

}  // namespace
}  // namespace masklm
