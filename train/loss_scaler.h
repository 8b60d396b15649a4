// Dynamic loss scaling for fp16 training (kernels/cuda/precision.h): the loss is multiplied
// by scale() before the backward so small gradients survive fp16's narrow exponent range,
// and the gradients are divided by it again in the optimizer (AdamWStep::grad_scale).
// After each backward the caller checks the gradients for inf/nan (a non-finite
// sum_squares) and calls update(): an overflow skips the step and backs the scale off; a
// run of growth_interval good steps grows it. bf16 and fp32 need none of this.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>

namespace masklm {

struct Ctx;
struct Tensor;

// Whether the gradients hold an inf or a nan. sum_squares accumulates in double, which no
// finite fp32 values can overflow, so its sum is non-finite exactly when a gradient is; a
// step that computes the gradient norm anyway can test that norm instead.
bool found_inf(Ctx& ctx, const Tensor& grads);

struct LossScalerConfig {
  double initial_scale = 65536.0;  // 2^16, PyTorch's GradScaler default
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // good steps in a row before the scale grows
  double min_scale = 1.0;
  double max_scale = 16777216.0;  // 2^24: above it fp16 gradients overflow on any real loss
};

class LossScaler {
 public:
  explicit LossScaler(const LossScalerConfig& config = {});

  double scale() const { return scale_; }
  // The scale cannot back off further: an overflow now is not the scale's doing.
  bool at_min_scale() const { return scale_ <= config_.min_scale; }
  int64_t good_steps() const { return good_steps_; }

  // Records one step's gradient check; returns true when the step must be skipped (the
  // gradients overflowed), after backing the scale off. A good step counts towards growth.
  bool update(bool found_inf);
  // update(found_inf), telling the two kinds of non-finite gradients apart: true when they
  // overflowed at a scale that could still back off (fp16's doing: skip the step, it is not
  // a bad one); false for finite gradients and for non-finite ones at the minimum scale,
  // which no scale causes (the run diverged).
  bool overflowed_at_scale(bool found_inf) {
    const bool could_back_off = !at_min_scale();
    return update(found_inf) && could_back_off;
  }

  // The mutable state (scale and good-step count) for checkpoints; the config is not saved
  // (it comes from the run config), so a resume may change it.
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  LossScalerConfig config_;
  double scale_;
  int64_t good_steps_ = 0;
};

}  // namespace masklm
