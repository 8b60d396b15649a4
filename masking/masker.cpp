#include "masking/masker.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "runtime/error.h"

namespace masklm {

Masker::Masker(MaskingConfig config, VocabInfo vocab, PmiVocabulary pmi)
    : config_(std::move(config)),
      vocab_(std::move(vocab)),
      pmi_(std::move(pmi)),
      segmenter_(config_, vocab_, &pmi_) {
  vocab_.validate();
  MASKLM_CHECK(0 <= config_.random_share && config_.random_share <= 1,
               "random share must be in [0, 1], got {}", config_.random_share);
  MASKLM_CHECK(config_.random_share == 1 || vocab_.mask_id >= 0,
               "masking with [MASK] needs a tokenizer with a mask token");
  MASKLM_CHECK(config_.strategy != MaskingStrategy::PMI || !pmi_.ngrams().empty(),
               "PMI masking needs a non-empty PMI vocabulary (masking.pmi_vocab, built by `masklm "
               "pmi-vocab`)");
  for (const PmiNgram& g : pmi_.ngrams())
    for (int32_t id : g.ids)
      MASKLM_CHECK(id < vocab_.size, "PMI vocabulary has token id {} outside the vocabulary of {}",
                   id, vocab_.size);
  if (config_.random_share > 0) replacement_.emplace(vocab_, config_.replacement);
}

SequenceMasking Masker::mask(std::span<const int32_t> ids, const MaskRates& rates,
                             const RngKey& key, uint64_t sequence) const {
  MASKLM_CHECK(0 <= rates.corrupt && rates.corrupt <= 1 && 0 <= rates.predict && rates.predict <= 1,
               "masking rates must be in [0, 1], got corrupt {} and predict {}", rates.corrupt,
               rates.predict);
  SequenceRng rng(key, sequence);
  std::vector<MaskingUnit> units;
  segmenter_.segment(ids, rng, units);

  SequenceMasking out;
  out.input.assign(ids.begin(), ids.end());
  out.predicted.assign(ids.size(), 0);
  out.corruption.assign(ids.size(), Corruption::NONE);
  for (const MaskingUnit& u : units) out.eligible += u.size();

  // Priority order over units (Fisher-Yates).
  std::vector<uint32_t> order(units.size());
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[rng.next_below(static_cast<uint32_t>(i))]);

  const double predict_target = static_cast<double>(out.eligible) * rates.predict;
  const double corrupt_target = static_cast<double>(out.eligible) * rates.corrupt;
  const double cut = rng.next_uniform();
  // Whether the unit after `before` tokens of the order falls inside a cut at `target`.
  const auto inside = [cut](double target, int64_t before, int32_t len) {
    return cut < (target - static_cast<double>(before)) / len;
  };
  int64_t before = 0;
  for (uint32_t k : order) {
    const MaskingUnit& u = units[k];
    if (before >= predict_target && before >= corrupt_target) break;
    const bool predict = inside(predict_target, before, u.size());
    const bool corrupt = inside(corrupt_target, before, u.size());
    for (int32_t t = u.begin; t < u.end; ++t) {
      out.predicted[static_cast<size_t>(t)] = predict;
      if (corrupt) out.corruption[static_cast<size_t>(t)] = Corruption::MASK;
    }
    out.selected_units += predict || corrupt;
    before += u.size();
  }

  // Replacements in position order.
  for (size_t t = 0; t < ids.size(); ++t) {
    if (out.corruption[t] == Corruption::NONE) continue;
    if (rng.next_uniform() < config_.random_share) {
      out.corruption[t] = Corruption::RANDOM;
      out.input[t] = replacement_->draw(rng.next_uniform());
    } else {
      out.input[t] = vocab_.mask_id;
    }
  }
  return out;
}

void Masker::mask_sequence(std::span<const int32_t> ids, const MaskRates& rates, const RngKey& key,
                           uint64_t sequence, Batch& out) const {
  const SequenceMasking m = mask(ids, rates, key, sequence);
  const auto offset = static_cast<int32_t>(out.tokens.size());
  out.add_sequence(m.input, 0);
  for (size_t t = 0; t < ids.size(); ++t) {
    out.corrupted.push_back(m.corruption[t] != Corruption::NONE);
    if (m.predicted[t]) out.add_prediction(offset + static_cast<int32_t>(t), ids[t]);
  }
}

}  // namespace masklm
