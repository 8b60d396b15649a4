// Learning-rate schedules: linear warmup to the peak, then linear, polynomial, cosine or
// constant decay.
#pragma once

#include <cstdint>
#include <string_view>

namespace masklm {

enum class LrDecay { LINEAR, POLYNOMIAL, COSINE, CONSTANT };

LrDecay lr_decay_from_name(std::string_view name);  // "linear", "polynomial", "cosine", "constant"
const char* lr_decay_name(LrDecay decay);

struct LrSchedule {
  double peak_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  LrDecay decay = LrDecay::LINEAR;
  double final_lr_fraction = 0.0;  // the decay ends at peak_lr * final_lr_fraction
  double power = 1.0;              // POLYNOMIAL: (1 - progress)^power; 1 is LINEAR

  // Learning rate for 0-based step `step`.
  double at(int64_t step) const;
};

}  // namespace masklm
