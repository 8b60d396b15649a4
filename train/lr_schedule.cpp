#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace masklm {

LrDecay lr_decay_from_name(std::string_view name) {
  for (LrDecay d : {LrDecay::LINEAR, LrDecay::POLYNOMIAL, LrDecay::COSINE, LrDecay::CONSTANT})
    if (name == lr_decay_name(d)) return d;
  MASKLM_FAIL("unknown learning-rate decay '{}' (known: linear, polynomial, cosine, constant)", name);
}

const char* lr_decay_name(LrDecay decay) {
  switch (decay) {
    case LrDecay::LINEAR: return "linear";
    case LrDecay::POLYNOMIAL: return "polynomial";
    case LrDecay::COSINE: return "cosine";
    case LrDecay::CONSTANT: return "constant";
  }
  return "?";
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
    case LrDecay::POLYNOMIAL: return floor + (peak_lr - floor) * std::pow(1.0 - progress, power);
    case LrDecay::COSINE: return floor + (peak_lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return peak_lr;
}

}  // namespace masklm
