#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace masklm {

LrDecay lr_decay_from_name(std::string_view name) {
  if (name == "linear") return LrDecay::LINEAR;
  if (name == "cosine") return LrDecay::COSINE;
  if (name == "constant") return LrDecay::CONSTANT;
  MASKLM_FAIL("unknown learning-rate decay '{}' (known: linear, cosine, constant)", name);
}

double LrSchedule::at(int64_t step) const {
  // Warmup reaches the peak at step warmup_steps - 1, so step 0 already trains.
  if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
  const double progress = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
  const double floor = peak_lr * final_lr_fraction;
  switch (decay) {
    case LrDecay::CONSTANT: return peak_lr;
    case LrDecay::LINEAR: return floor + (peak_lr - floor) * (1.0 - progress);
    case LrDecay::COSINE: return floor + (peak_lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return peak_lr;
}

}  // namespace masklm
