// Where training batches come from. A source is stateless: the micro-batch of a given
// (step, micro-step) is a pure function of the source's configuration and seed, so
// resuming at step k needs no saved cursor beyond k and two runs are bitwise equal.
#pragma once

#include <cstdint>

#include "model/batch.h"

namespace masklm {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Micro-batch `micro` (0-based) of optimizer step `step` for this process's rank.
  virtual Batch batch(int64_t step, int64_t micro) const = 0;
};

}  // namespace masklm
