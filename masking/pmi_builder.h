// Builds a PMI-Masking vocabulary from a token-id corpus (Levine et al., 2021).
//
// An n-gram's score is the paper's PMI_n: the smallest log-ratio between its probability
// and the product of its parts' probabilities over every way of cutting it into 2..n
// contiguous parts,
//   PMI_n(w) = min over segmentations σ of  log p(w) − Σ_{s∈σ} log p(s),
// where p(s) = count(s) / (number of |s|-grams in the corpus). For bigrams this is plain
// PMI; for longer n-grams it is low unless every split is surprising, so an n-gram made of
// a strong collocation plus an arbitrary token does not qualify.
// Counting is level by level (one corpus pass per length, apriori pruning): an n-gram is
// counted only when both of its (n−1)-gram prefix and suffix occur at least min_count
// times, which bounds memory by the frequent n-grams.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "masking/pmi_vocabulary.h"

namespace masklm {

struct PmiVocabularyOptions {
  int32_t max_n = kMaxNgram;  // n-grams of 2..max_n tokens
  int64_t min_count = 10;     // fewer occurrences: unreliable probabilities, not kept
  int64_t top_k = 100000;     // n-grams kept, best PMI_n first
};

// A corpus that can be read several times: calling it makes one pass, handing every span
// of token ids (a document or a sentence, without special tokens) to the visitor. N-grams
// never cross spans. A shard reader, a text file encoded in memory or a test vector all fit.
using TokenSpanVisitor = std::function<void(std::span<const int32_t>)>;
using TokenCorpus = std::function<void(const TokenSpanVisitor&)>;

PmiVocabulary build_pmi_vocabulary(const TokenCorpus& corpus, const PmiVocabularyOptions& options);

}  // namespace masklm
