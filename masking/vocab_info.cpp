#include "masking/vocab_info.h"

#include <cmath>

#include "runtime/error.h"

namespace masklm {

void VocabInfo::validate() const {
  const auto v = static_cast<size_t>(size);
  MASKLM_CHECK(size > 0, "vocabulary size must be positive, got {}", size);
  MASKLM_CHECK(is_special.size() == v && starts_word.size() == v,
               "vocabulary tables have {} and {} entries for a vocabulary of {}", is_special.size(),
               starts_word.size(), size);
  MASKLM_CHECK(frequency.empty() || frequency.size() == v,
               "{} token frequencies for a vocabulary of {}", frequency.size(), size);
  for (double f : frequency)
    MASKLM_CHECK(std::isfinite(f) && f >= 0, "token frequencies must be >= 0, got {}", f);
  MASKLM_CHECK(mask_id < size, "mask id {} outside the vocabulary of {}", mask_id, size);
  MASKLM_CHECK(mask_id < 0 || is_special[static_cast<size_t>(mask_id)],
               "mask id {} is not marked special", mask_id);
}

}  // namespace masklm
