#include "masking/rate_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "runtime/error.h"

namespace masklm {

double RateSchedule::at(int64_t step, int64_t total_steps) const {
  if (kind == ScheduleKind::CONSTANT || start == end) return start;
  MASKLM_CHECK(total_steps > 0, "a {} masking-rate schedule needs the run's total steps, got {}",
               kind == ScheduleKind::LINEAR ? "linear" : "cosine", total_steps);
  MASKLM_CHECK(step >= 0, "step must be non-negative, got {}", step);
  const double t = std::min(1.0, static_cast<double>(step) / static_cast<double>(total_steps));
  if (kind == ScheduleKind::LINEAR) return start + (end - start) * t;
  return end + (start - end) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
}

}  // namespace masklm
