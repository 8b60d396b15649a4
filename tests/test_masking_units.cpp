// Masking units: whole words for the three tokenizer families, SpanBERT span lengths,
// greedy PMI n-gram segmentation.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "masking/masker.h"
#include "masking/masking_stats.h"
#include "masking/unit_segmenter.h"
#include "test_masking_support.h"

namespace masklm {
namespace {

using testing::Family;
using testing::kCls;
using testing::kSep;
using testing::masking_key;
using testing::ToyVocab;

using Ranges = std::vector<std::pair<int32_t, int32_t>>;

MaskingConfig strategy_config(MaskingStrategy strategy) {
  MaskingConfig c;
  c.strategy = strategy;
  return c;
}

Ranges unit_ranges(const UnitSegmenter& segmenter, const std::vector<int32_t>& ids,
                   uint64_t sequence = 0) {
  SequenceRng rng(masking_key(), sequence);
  std::vector<MaskingUnit> units;
  segmenter.segment(ids, rng, units);
  Ranges out;
  for (const auto& u : units) out.emplace_back(u.begin, u.end);
  return out;
}

// The same sentence in each family's spelling: "[CLS] the players play ##ing [SEP]
// ##ed again [SEP]", where a continuation right after a special still starts a word.
struct FamilyCase {
  Family family;
  std::vector<std::string> pieces;
  std::vector<std::string> sentence;
};

std::vector<FamilyCase> family_cases() {
  const std::string g = "\xC4\xA0", m = "\xE2\x96\x81";
  return {
      {Family::WORDPIECE,
       {"the", "player", "##s", "play", "##ing", "##ed", "again"},
       {"[CLS]", "the", "player", "##s", "play", "##ing", "[SEP]", "##ed", "again", "[SEP]"}},
      {Family::BYTE_LEVEL_BPE,
       {g + "the", g + "player", "s", g + "play", "ing", "ed", g + "again"},
       {"[CLS]", g + "the", g + "player", "s", g + "play", "ing", "[SEP]", "ed", g + "again",
        "[SEP]"}},
      {Family::METASPACE,
       {m + "the", m + "player", "s", m + "play", "ing", "ed", m + "again"},
       {"[CLS]", m + "the", m + "player", "s", m + "play", "ing", "[SEP]", "ed", m + "again",
        "[SEP]"}},
  };
}

const Ranges kSentenceWords{{1, 2}, {2, 4}, {4, 6}, {7, 8}, {8, 9}};

TEST(WholeWordUnits, FollowEachTokenizerFamily) {
  for (const FamilyCase& c : family_cases()) {
    const ToyVocab v = testing::toy_vocab(c.family, c.pieces);
    const UnitSegmenter words(strategy_config(MaskingStrategy::WHOLE_WORD), v.info, nullptr);
    EXPECT_EQ(unit_ranges(words, v.ids(c.sentence)), kSentenceWords) << static_cast<int>(c.family);
  }
}

TEST(WholeWordMasking, KeepsWordsIntact) {
  for (const FamilyCase& c : family_cases()) {
    const ToyVocab v = testing::toy_vocab(c.family, c.pieces);
    MaskingConfig config = strategy_config(MaskingStrategy::WHOLE_WORD);
    config.random_share = 0.5;
    const Masker masker(config, v.info);
    const auto ids = v.ids(c.sentence);
    int64_t selected_words = 0;
    for (uint64_t s = 0; s < 500; ++s) {
      const SequenceMasking m = masker.mask(ids, {0.3, 0.4}, masking_key(), s);
      for (const auto& [begin, end] : kSentenceWords) {
        for (int32_t t = begin + 1; t < end; ++t) {
          EXPECT_EQ(m.predicted[static_cast<size_t>(t)], m.predicted[static_cast<size_t>(begin)]);
          EXPECT_EQ(m.corruption[static_cast<size_t>(t)] == Corruption::NONE,
                    m.corruption[static_cast<size_t>(begin)] == Corruption::NONE);
        }
        selected_words += m.predicted[static_cast<size_t>(begin)];
      }
    }
    EXPECT_GT(selected_words, 0);  // not vacuous
  }
}

// Span lengths of all spans but the last of each run (which the run's end may cut).
std::vector<int64_t> span_length_histogram(const UnitSegmenter& spans,
                                           const std::vector<int32_t>& ids,
                                           const std::vector<int32_t>& word_starts_before,
                                           int32_t max_len) {
  std::vector<int64_t> histogram(static_cast<size_t>(max_len), 0);
  for (uint64_t s = 0; s < 400; ++s) {
    const Ranges units = unit_ranges(spans, ids, s);
    for (size_t u = 0; u + 1 < units.size(); ++u) {
      const int32_t len = word_starts_before[static_cast<size_t>(units[u].second)] -
                          word_starts_before[static_cast<size_t>(units[u].first)];
      ++histogram.at(static_cast<size_t>(len - 1));
    }
  }
  return histogram;
}

double chi_square_against(const std::vector<int64_t>& observed, const TruncatedGeometric& lengths) {
  std::vector<double> pmf;
  for (int32_t k = 1; k <= lengths.max_len(); ++k) pmf.push_back(lengths.pmf(k));
  return testing::chi_square(observed, pmf);
}

TEST(SpanUnits, LengthsFollowTheTruncatedGeometric) {
  // SpanBERT's p = 0.2, max 10 (mean 3.797 words), over ~80k spans; chi-square with 9 df:
  // P(chi2 > 44.81) = 1e-6.
  const ToyVocab v = testing::toy_vocab(Family::WORDPIECE, {"w", "##x"});
  const TruncatedGeometric lengths(0.2, 10);
  EXPECT_NEAR(lengths.pmf(1), 0.2 / (1 - std::pow(0.8, 10)), 1e-12);
  for (bool whole_words : {true, false}) {
    // Words of 1 and 2 pieces; spans count words, or tokens without whole_words.
    std::vector<int32_t> ids{kCls}, word_starts_before{0, 0};
    for (int i = 0; i < 1000; ++i) {
      ids.push_back(v.id("w"));
      if (i % 2) ids.push_back(v.id("##x"));
    }
    ids.push_back(kSep);
    for (size_t t = 1; t < ids.size(); ++t)
      word_starts_before.push_back(
          word_starts_before.back() +
          (whole_words ? v.info.starts_word[static_cast<size_t>(ids[t])] : 1));
    MaskingConfig config = strategy_config(MaskingStrategy::SPAN);
    config.span.whole_words = whole_words;
    const UnitSegmenter spans(config, v.info, nullptr);
    for (const auto& [begin, end] : unit_ranges(spans, ids)) {
      EXPECT_TRUE(v.info.starts_word[static_cast<size_t>(ids[static_cast<size_t>(begin)])] ||
                  !whole_words);
      EXPECT_TRUE(end == static_cast<int32_t>(ids.size()) - 1 ||
                  v.info.starts_word[static_cast<size_t>(ids[static_cast<size_t>(end)])] ||
                  !whole_words);
    }
    const auto histogram = span_length_histogram(spans, ids, word_starts_before, 10);
    EXPECT_LT(chi_square_against(histogram, lengths), 44.81) << "whole_words " << whole_words;
    // The test can fail: the same spans judged against p = 0.25.
    EXPECT_GT(chi_square_against(histogram, TruncatedGeometric(0.25, 10)), 44.81);
  }
}

TEST(SpanMasking, MeanSelectedUnitLengthIsTheSpanMean) {
  // Single-token words, so span length in words = in tokens: mean_unit_len over selected
  // spans ≈ 3.797 (the cut-short last span of a run and the size bias of spans straddling
  // the cut move it a little; 0.25 is far below the uniform strategy's distance of 2.8).
  const ToyVocab v = testing::toy_vocab(Family::WORDPIECE, {"w"});
  const Masker masker(strategy_config(MaskingStrategy::SPAN), v.info);
  const std::vector<int32_t> ids(512, v.id("w"));
  MaskingStats stats;
  for (uint64_t s = 0; s < 300; ++s) stats.add(masker.mask(ids, {0.15, 0.15}, masking_key(), s));
  EXPECT_NEAR(stats.to_json()["mean_unit_len"].get<double>(), 3.797, 0.25);
}

TEST(PmiUnits, GreedyLongestMatchWithinRuns) {
  const VocabInfo vocab = testing::plain_vocab(20);
  const PmiVocabulary pmi(
      {{{5, 6}, 10, 2.0}, {{5, 6, 7}, 5, 1.0}, {{8, 9}, 4, 3.0}, {{9, 10}, 4, 3.0}});
  const UnitSegmenter segmenter(strategy_config(MaskingStrategy::PMI), vocab, &pmi);
  // 5 6 7 | 8 9 | 10 | [SEP] | 5 | [SEP] 6 | 5 6 | 11
  const std::vector<int32_t> ids{kCls, 5, 6, 7, 8, 9, 10, kSep, 5, kSep, 6, 5, 6, 11};
  EXPECT_EQ(unit_ranges(segmenter, ids),
            (Ranges{{1, 4}, {4, 6}, {6, 7}, {8, 9}, {10, 11}, {11, 13}, {13, 14}}));
}

}  // namespace
}  // namespace masklm
