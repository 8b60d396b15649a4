// A masking rate that may change over training (Wettig et al. 2023 decay the masking
// rate, e.g. 40% → 15%): constant, or linear/cosine from `start` at step 0 to `end` at
// the last step, held at `end` afterwards.
#pragma once

#include <cstdint>

namespace masklm {

enum class ScheduleKind { CONSTANT, LINEAR, COSINE };

struct RateSchedule {
  ScheduleKind kind = ScheduleKind::CONSTANT;
  double start = 0;
  double end = 0;  // equals start for CONSTANT

  static RateSchedule constant(double rate) { return {ScheduleKind::CONSTANT, rate, rate}; }

  // The rate at `step` of a run of `total_steps`; total_steps is only read (and must be
  // positive) when the rate changes.
  double at(int64_t step, int64_t total_steps) const;
  // c · rate(t) for every t: both interpolations are linear in (start, end).
  RateSchedule scaled(double c) const { return {kind, start * c, end * c}; }
};

}  // namespace masklm
