// Cuts a sequence into masking units: contiguous runs of non-special tokens that are
// selected (or not) together. Units never contain or cross a special token.
//   uniform     one token per unit
//   whole_word  one word per unit (a word starts at a starts_word id, at the first token
//               and after a special token)
//   span        consecutive words (or tokens) grouped into spans of truncated-geometric
//               length, drawn left to right through each run of non-special tokens
//   pmi         greedy left-to-right longest match of PMI-vocabulary n-grams; tokens
//               outside any match are single units
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "masking/masking_config.h"
#include "masking/pmi_vocabulary.h"
#include "masking/sequence_rng.h"
#include "masking/truncated_geometric.h"
#include "masking/vocab_info.h"

namespace masklm {

struct MaskingUnit {
  int32_t begin = 0, end = 0;  // token positions [begin, end)
  int32_t size() const { return end - begin; }
};

class UnitSegmenter {
 public:
  // `pmi` must outlive the segmenter; it is required for strategy pmi.
  UnitSegmenter(const MaskingConfig& config, const VocabInfo& vocab, const PmiVocabulary* pmi);

  // Replaces `units` with the units of `ids`, in position order. Span masking draws its
  // lengths from `rng`; the other strategies draw nothing.
  void segment(std::span<const int32_t> ids, SequenceRng& rng,
               std::vector<MaskingUnit>& units) const;

 private:
  void add_words(std::span<const int32_t> ids, int32_t begin, int32_t end,
                 std::vector<MaskingUnit>& out) const;
  void add_spans(std::span<const int32_t> ids, int32_t begin, int32_t end, SequenceRng& rng,
                 std::vector<MaskingUnit>& out) const;
  void add_pmi_ngrams(std::span<const int32_t> ids, int32_t begin, int32_t end,
                      std::vector<MaskingUnit>& out) const;

  MaskingStrategy strategy_;
  const VocabInfo& vocab_;
  bool span_whole_words_;
  std::optional<TruncatedGeometric> span_lengths_;
  const PmiVocabulary* pmi_;
};

}  // namespace masklm
