// What to mask and how (DESIGN.md §5, docs/masking.md). Two equivalent forms are read:
//   decoupled:  corrupt_rate (m_corr), predict_rate (m_pred), corrupt_split {mask, random}
//   BERT:       mask_rate with mask_split {mask, random, keep} (e.g. 0.8/0.1/0.1)
// and the BERT form is mapped onto the decoupled one: m_pred = r, m_corr = r·(mask+random),
// random share = random/(mask+random). Giving keys of both forms is an error.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "masking/rate_schedule.h"

namespace masklm {

enum class MaskingStrategy { UNIFORM, WHOLE_WORD, SPAN, PMI };
enum class ReplacementDistribution { UNIFORM, FREQUENCY };

const char* masking_strategy_name(MaskingStrategy s);

// SpanBERT (Joshi et al., 2020): span lengths ~ Geometric(p) truncated at max_len,
// counted in whole words (or in tokens when whole_words is false).
struct SpanOptions {
  double p = 0.2;
  int32_t max_len = 10;
  bool whole_words = true;
};

struct MaskingConfig {
  MaskingStrategy strategy = MaskingStrategy::UNIFORM;
  // Defaults: BERT's 15% with 80-10-10.
  RateSchedule corrupt_rate = RateSchedule::constant(0.15 * 0.9);  // m_corr
  RateSchedule predict_rate = RateSchedule::constant(0.15);        // m_pred
  double random_share = 0.1 / 0.9;  // of corrupted tokens; the rest become [MASK]
  ReplacementDistribution replacement = ReplacementDistribution::UNIFORM;
  SpanOptions span;
  std::string pmi_vocab;  // PMI vocabulary file (strategy pmi), from `masklm pmi-vocab`
};

// m_corr and m_pred at one step.
struct MaskRates {
  double corrupt = 0;
  double predict = 0;
};
MaskRates rates_at(const MaskingConfig& config, int64_t step, int64_t total_steps);

// Reads the masking section at `path` (e.g. "masking") strictly: unknown keys, rates
// outside [0, 1], splits not summing to 1 and mixed forms throw masklm::Error naming the key.
MaskingConfig masking_config_from_json(const nlohmann::json& node, const std::string& path);

}  // namespace masklm
