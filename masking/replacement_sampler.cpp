#include "masking/replacement_sampler.h"

#include <algorithm>

#include "runtime/error.h"

namespace masklm {

ReplacementSampler::ReplacementSampler(const VocabInfo& vocab,
                                       ReplacementDistribution distribution) {
  const bool weighted = distribution == ReplacementDistribution::FREQUENCY;
  MASKLM_CHECK(!weighted || !vocab.frequency.empty(),
               "frequency-weighted replacement needs token frequencies (VocabInfo::frequency)");
  double total = 0;
  for (int32_t id = 0; id < vocab.size; ++id) {
    const auto k = static_cast<size_t>(id);
    const double w = weighted ? vocab.frequency[k] : 1.0;
    if (vocab.is_special[k] || w <= 0) continue;
    total += w;
    ids_.push_back(id);
    cdf_.push_back(total);
  }
  MASKLM_CHECK(!ids_.empty(), "no non-special token {}to replace corrupted tokens with",
               weighted ? "with a positive frequency " : "");
  for (double& c : cdf_) c /= total;
  cdf_.back() = 1;  // so u < 1 always finds an id despite rounding
}

int32_t ReplacementSampler::draw(double u) const {
  return ids_[static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin())];
}

double ReplacementSampler::probability(int32_t id) const {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return 0;
  const auto k = static_cast<size_t>(it - ids_.begin());
  return cdf_[k] - (k == 0 ? 0.0 : cdf_[k - 1]);
}

}  // namespace masklm
