// A PMI-Masking vocabulary (Levine et al., 2021): token n-grams (n = 2..5) that behave
// as units because their parts co-occur far more often than chance. Built by
// build_pmi_vocabulary (masking/pmi_builder.h), stored as a text file:
//   masklm-pmi-vocab 1
//   <score> <count> <id> <id> ...     one n-gram per line, best first
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <unordered_set>
#include <vector>

#include "masking/ngram_key.h"

namespace masklm {

struct PmiNgram {
  std::vector<int32_t> ids;
  int64_t count = 0;  // occurrences in the corpus
  double score = 0;   // PMI_n, natural log
};

class PmiVocabulary {
 public:
  PmiVocabulary() = default;
  explicit PmiVocabulary(std::vector<PmiNgram> ngrams);  // throws on n outside 2..5 or negative ids

  const std::vector<PmiNgram>& ngrams() const { return ngrams_; }
  int32_t max_n() const { return max_n_; }
  bool contains(std::span<const int32_t> tokens) const;
  // Length of the longest vocabulary n-gram that starts at `pos` and ends by `end`; 0 if none.
  int32_t longest_match(std::span<const int32_t> ids, size_t pos, size_t end) const;

  void save(const std::filesystem::path& path) const;
  static PmiVocabulary load(const std::filesystem::path& path);

 private:
  std::vector<PmiNgram> ngrams_;
  std::unordered_set<NgramKey, NgramKeyHash> lookup_;
  int32_t max_n_ = 0;
};

}  // namespace masklm
