#include "masking/unit_segmenter.h"

#include "runtime/error.h"

namespace masklm {

UnitSegmenter::UnitSegmenter(const MaskingConfig& config, const VocabInfo& vocab,
                             const PmiVocabulary* pmi)
    : strategy_(config.strategy),
      vocab_(vocab),
      span_whole_words_(config.span.whole_words),
      pmi_(pmi) {
  if (strategy_ == MaskingStrategy::SPAN) span_lengths_.emplace(config.span.p, config.span.max_len);
  MASKLM_CHECK(strategy_ != MaskingStrategy::PMI || pmi_ != nullptr,
               "PMI masking needs a PMI vocabulary");
}

void UnitSegmenter::segment(std::span<const int32_t> ids, SequenceRng& rng,
                            std::vector<MaskingUnit>& units) const {
  units.clear();
  const auto n = static_cast<int32_t>(ids.size());
  const auto special = [&](int32_t t) {
    const int32_t id = ids[static_cast<size_t>(t)];
    MASKLM_CHECK(0 <= id && id < vocab_.size,
                 "token id {} at position {} outside the vocabulary of {}", id, t, vocab_.size);
    return vocab_.is_special[static_cast<size_t>(id)] != 0;
  };
  for (int32_t i = 0; i < n;) {
    if (special(i)) {
      ++i;
      continue;
    }
    // The maximal run of non-special tokens [begin, i).
    const int32_t begin = i;
    while (i < n && !special(i)) ++i;
    switch (strategy_) {
      case MaskingStrategy::UNIFORM:
        for (int32_t t = begin; t < i; ++t) units.push_back({t, t + 1});
        break;
      case MaskingStrategy::WHOLE_WORD: add_words(ids, begin, i, units); break;
      case MaskingStrategy::SPAN: add_spans(ids, begin, i, rng, units); break;
      case MaskingStrategy::PMI: add_pmi_ngrams(ids, begin, i, units); break;
    }
  }
}

void UnitSegmenter::add_words(std::span<const int32_t> ids, int32_t begin, int32_t end,
                              std::vector<MaskingUnit>& out) const {
  // The run's first token begins a word whatever its spelling: it follows a special
  // token or the start of the sequence.
  int32_t word = begin;
  for (int32_t t = begin + 1; t < end; ++t) {
    if (vocab_.starts_word[static_cast<size_t>(ids[static_cast<size_t>(t)])]) {
      out.push_back({word, t});
      word = t;
    }
  }
  out.push_back({word, end});
}

void UnitSegmenter::add_spans(std::span<const int32_t> ids, int32_t begin, int32_t end,
                              SequenceRng& rng, std::vector<MaskingUnit>& out) const {
  std::vector<MaskingUnit> pieces;
  if (span_whole_words_) {
    add_words(ids, begin, end, pieces);
  } else {
    for (int32_t t = begin; t < end; ++t) pieces.push_back({t, t + 1});
  }
  // The last span of a run is cut short by the run's end.
  for (size_t p = 0; p < pieces.size();) {
    const auto len = static_cast<size_t>(span_lengths_->draw(rng.next_uniform()));
    const size_t last = std::min(pieces.size(), p + len) - 1;
    out.push_back({pieces[p].begin, pieces[last].end});
    p = last + 1;
  }
}

void UnitSegmenter::add_pmi_ngrams(std::span<const int32_t> ids, int32_t begin, int32_t end,
                                   std::vector<MaskingUnit>& out) const {
  for (int32_t t = begin; t < end;) {
    const int32_t n =
        std::max(1, pmi_->longest_match(ids, static_cast<size_t>(t), static_cast<size_t>(end)));
    out.push_back({t, t + n});
    t += n;
  }
}

}  // namespace masklm
