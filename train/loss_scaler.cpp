#include "train/loss_scaler.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "runtime/config_reader.h"
#include "runtime/error.h"

namespace masklm {

namespace {

void check_scale(double scale, const LossScalerConfig& c, const char* what) {
  MASKLM_CHECK(std::isfinite(scale) && scale >= c.min_scale && scale <= c.max_scale,
               "loss scaler: {} {} is outside [{}, {}]", what, scale, c.min_scale, c.max_scale);
}

}  // namespace

bool found_inf(Ctx& ctx, const Tensor& grads) { return !std::isfinite(sum_squares(ctx, grads)); }

LossScaler::LossScaler(const LossScalerConfig& config)
    : config_(config), scale_(config.initial_scale) {
  MASKLM_CHECK(config.min_scale > 0 && config.min_scale <= config.max_scale,
               "loss scaler: need 0 < min_scale <= max_scale, got {} and {}", config.min_scale,
               config.max_scale);
  MASKLM_CHECK(config.growth_factor > 1, "loss scaler: growth_factor must be > 1, got {}",
               config.growth_factor);
  MASKLM_CHECK(config.backoff_factor > 0 && config.backoff_factor < 1,
               "loss scaler: backoff_factor must be in (0, 1), got {}", config.backoff_factor);
  MASKLM_CHECK(config.growth_interval >= 1, "loss scaler: growth_interval must be >= 1, got {}",
               config.growth_interval);
  check_scale(scale_, config_, "initial_scale");
}

bool LossScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ = std::max(scale_ * config_.backoff_factor, config_.min_scale);
    good_steps_ = 0;
    return true;
  }
  if (++good_steps_ == config_.growth_interval) {
    scale_ = std::min(scale_ * config_.growth_factor, config_.max_scale);
    good_steps_ = 0;
  }
  return false;
}

nlohmann::json LossScaler::state() const {
  return {{"scale", scale_}, {"good_steps", good_steps_}};
}

void LossScaler::restore(const nlohmann::json& state) {
  // Strictly, as a config section: a corrupt state is an error naming the key.
  ConfigReader r(state, "loss_scaler");
  const double scale = r.require<double>("scale");
  const int64_t good_steps = r.require<int64_t>("good_steps");
  r.finish();
  check_scale(scale, config_, "saved scale");
  MASKLM_CHECK(good_steps >= 0 && good_steps < config_.growth_interval,
               "loss scaler: saved good_steps {} is outside [0, {})", good_steps,
               config_.growth_interval);
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace masklm
