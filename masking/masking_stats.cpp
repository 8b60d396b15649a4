#include "masking/masking_stats.h"

namespace masklm {

namespace {
double ratio(int64_t a, int64_t b) {
  return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
}
}  // namespace

void MaskingStats::add(const SequenceMasking& m) {
  ++sequences;
  tokens += static_cast<int64_t>(m.input.size());
  eligible += m.eligible;
  selected_units += m.selected_units;
  for (size_t t = 0; t < m.input.size(); ++t) {
    const bool corrupt = m.corruption[t] != Corruption::NONE;
    corrupted += corrupt;
    selected_tokens += corrupt || m.predicted[t];
    if (!m.predicted[t]) continue;
    ++predicted;
    predicted_masked += m.corruption[t] == Corruption::MASK;
    predicted_random += m.corruption[t] == Corruption::RANDOM;
    predicted_kept += !corrupt;
  }
}

nlohmann::json MaskingStats::to_json() const {
  return {{"sequences", sequences},
          {"tokens", tokens},
          {"eligible_tokens", eligible},
          {"corrupt_rate", ratio(corrupted, eligible)},
          {"predict_rate", ratio(predicted, eligible)},
          {"mask_frac", ratio(predicted_masked, predicted)},
          {"random_frac", ratio(predicted_random, predicted)},
          {"keep_frac", ratio(predicted_kept, predicted)},
          {"mean_unit_len", ratio(selected_tokens, selected_units)}};
}

}  // namespace masklm
