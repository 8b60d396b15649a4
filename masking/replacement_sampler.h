// Draws the token that replaces a corrupted token "with a random token": any non-special
// id, uniformly or in proportion to its corpus frequency (VocabInfo::frequency). Like
// BERT, the draw may return the original token.
#pragma once

#include <cstdint>
#include <vector>

#include "masking/masking_config.h"
#include "masking/vocab_info.h"

namespace masklm {

class ReplacementSampler {
 public:
  ReplacementSampler(const VocabInfo& vocab, ReplacementDistribution distribution);

  // The replacement for a uniform u in [0, 1).
  int32_t draw(double u) const;
  // Probability of drawing `id` (0 for specials), for tests and reports.
  double probability(int32_t id) const;
  // The table draw() searches: ids and their cumulative probabilities (the GPU masker
  // copies it).
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::vector<double>& cdf() const { return cdf_; }

 private:
  std::vector<int32_t> ids_;  // non-special ids with positive weight
  std::vector<double> cdf_;   // cumulative weights of ids_, normalized to end at 1
};

}  // namespace masklm
