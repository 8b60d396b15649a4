#include "masking/pmi_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"

namespace masklm {

namespace {

using NgramCounts = std::unordered_map<NgramKey, int64_t, NgramKeyHash>;

struct CorpusCounts {
  std::vector<NgramCounts> by_length;  // [n] frequent n-grams with their counts
  std::vector<int64_t> totals;         // [n] n-gram positions in the corpus

  int64_t count(std::span<const int32_t> tokens) const {
    const NgramCounts& level = by_length[tokens.size()];
    const auto it = level.find(NgramKey::of(tokens));
    return it == level.end() ? 0 : it->second;
  }
  double log_probability(std::span<const int32_t> tokens) const {
    return std::log(static_cast<double>(count(tokens))) -
           std::log(static_cast<double>(totals[tokens.size()]));
  }
};

CorpusCounts count_frequent_ngrams(const TokenCorpus& corpus, const PmiVocabularyOptions& options) {
  CorpusCounts c;
  const auto levels = static_cast<size_t>(options.max_n) + 1;
  c.by_length.resize(levels);
  c.totals.assign(levels, 0);
  for (size_t n = 1; n < levels; ++n) {
    NgramCounts& level = c.by_length[n];
    corpus([&](std::span<const int32_t> span) {
      if (span.size() < n) return;
      c.totals[n] += static_cast<int64_t>(span.size() - n + 1);
      for (size_t i = 0; i + n <= span.size(); ++i) {
        const auto gram = span.subspan(i, n);
        // Apriori: an n-gram is at most as frequent as its parts.
        if (n > 1 && (c.count(gram.first(n - 1)) == 0 || c.count(gram.last(n - 1)) == 0)) continue;
        ++level[NgramKey::of(gram)];
      }
    });
    std::erase_if(level, [&](const auto& item) { return item.second < options.min_count; });
  }
  return c;
}

// PMI_n: the minimum over the 2^(n-1) - 1 ways to cut the n-gram into at least two parts.
double pmi_score(std::span<const int32_t> gram, const CorpusCounts& c) {
  const size_t n = gram.size();
  const double joint = c.log_probability(gram);
  double best = std::numeric_limits<double>::infinity();
  for (uint32_t cuts = 1; cuts < (1u << (n - 1)); ++cuts) {  // bit i: cut after token i
    double parts = 0;
    size_t begin = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i + 1 == n || (cuts >> i & 1u)) {
        parts += c.log_probability(gram.subspan(begin, i + 1 - begin));
        begin = i + 1;
      }
    }
    best = std::min(best, joint - parts);
  }
  return best;
}

}  // namespace

PmiVocabulary build_pmi_vocabulary(const TokenCorpus& corpus, const PmiVocabularyOptions& options) {
  MASKLM_CHECK(2 <= options.max_n && options.max_n <= kMaxNgram,
               "PMI n-grams have 2 to {} tokens, max_n is {}", kMaxNgram, options.max_n);
  MASKLM_CHECK(options.min_count >= 1, "min_count must be at least 1, got {}", options.min_count);
  MASKLM_CHECK(options.top_k >= 1, "top_k must be at least 1, got {}", options.top_k);
  const CorpusCounts counts = count_frequent_ngrams(corpus, options);

  std::vector<PmiNgram> ngrams;
  for (size_t n = 2; n < counts.by_length.size(); ++n) {
    for (const auto& [key, count] : counts.by_length[n]) {
      const auto tokens = key.tokens();
      ngrams.push_back({{tokens.begin(), tokens.end()}, count, pmi_score(tokens, counts)});
    }
  }
  // Best score first; ties by count, then ids, so the file does not depend on hash order.
  std::sort(ngrams.begin(), ngrams.end(), [](const PmiNgram& a, const PmiNgram& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.count != b.count) return a.count > b.count;
    return a.ids < b.ids;
  });
  if (ngrams.size() > static_cast<size_t>(options.top_k))
    ngrams.resize(static_cast<size_t>(options.top_k));
  return PmiVocabulary(std::move(ngrams));
}

}  // namespace masklm
