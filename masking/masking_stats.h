// Measured masking statistics over many sequences, as `masklm mask-preview --json`
// prints them. Rates are per eligible (non-special) token; the *_frac shares are of
// predicted tokens, as in BERT's 80-10-10.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>

#include "masking/masker.h"

namespace masklm {

struct MaskingStats {
  int64_t sequences = 0;
  int64_t tokens = 0;
  int64_t eligible = 0;
  int64_t predicted = 0;
  int64_t corrupted = 0;
  int64_t predicted_masked = 0;
  int64_t predicted_random = 0;
  int64_t predicted_kept = 0;
  int64_t selected_tokens = 0;  // predicted or corrupted
  int64_t selected_units = 0;

  void add(const SequenceMasking& m);
  // {sequences, tokens, eligible_tokens, corrupt_rate, predict_rate, mask_frac, random_frac,
  //  keep_frac, mean_unit_len}
  nlohmann::json to_json() const;
};

}  // namespace masklm
