// Learning-rate schedules: linear warmup to the peak, then linear, cosine or constant decay.
#pragma once

#include <cstdint>
#include <string_view>

namespace masklm {

enum class LrDecay { LINEAR, COSINE, CONSTANT };

LrDecay lr_decay_from_name(std::string_view name);  // "linear", "cosine", "constant"

struct LrSchedule {
  double peak_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  LrDecay decay = LrDecay::LINEAR;
  double final_lr_fraction = 0.0;  // the decay ends at peak_lr * final_lr_fraction

  // Learning rate for 0-based step `step`.
  double at(int64_t step) const;
};

}  // namespace masklm
