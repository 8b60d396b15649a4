// Masker: exact per-sequence counts, exact expected rates, nested sets, replacement
// splits, specials, determinism and independence. Statistical checks state their bound;
// the draws are deterministic, so a pass or failure reproduces exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "expect_error.h"
#include "masking/masker.h"
#include "masking/masking_stats.h"
#include "test_masking_support.h"

namespace masklm {
namespace {

using testing::chi_square;
using testing::expect_error;
using testing::kCls;
using testing::kFirstWord;
using testing::kMask;
using testing::kPad;
using testing::kSep;
using testing::masking_key;

constexpr int32_t kVocab = 40;

MaskingConfig decoupled(double corrupt, double predict, double random_share,
                        MaskingStrategy strategy = MaskingStrategy::UNIFORM) {
  MaskingConfig c;
  c.strategy = strategy;
  c.corrupt_rate = RateSchedule::constant(corrupt);
  c.predict_rate = RateSchedule::constant(predict);
  c.random_share = random_share;
  return c;
}

// [CLS] words [SEP] words ... with specials sprinkled in and padding at the end.
std::vector<int32_t> random_sequence(std::mt19937& gen, int32_t length) {
  std::uniform_int_distribution<int32_t> word(kFirstWord, kVocab - 1), special(0, kFirstWord - 1);
  std::bernoulli_distribution is_special(0.1);
  std::vector<int32_t> ids{kCls};
  while (static_cast<int32_t>(ids.size()) < length)
    ids.push_back(is_special(gen) ? special(gen) : word(gen));
  for (int i = 0; i < 3; ++i) ids.push_back(kPad);
  return ids;
}

int64_t count(const std::vector<uint8_t>& flags) {
  return std::count(flags.begin(), flags.end(), 1);
}
int64_t corrupted(const SequenceMasking& m) {
  return std::count_if(m.corruption.begin(), m.corruption.end(),
                       [](Corruption c) { return c != Corruption::NONE; });
}
std::vector<int32_t> all_words(int32_t n) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < n; ++i) ids.push_back(kFirstWord + i % (kVocab - kFirstWord));
  return ids;
}

TEST(Masking, PerSequenceCountsAreRoundedTargets) {
  const VocabInfo vocab = testing::plain_vocab(kVocab);
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> rate(0, 1);
  for (uint64_t s = 0; s < 400; ++s) {
    const auto ids = random_sequence(gen, 1 + static_cast<int32_t>(s % 300));
    const MaskRates rates{rate(gen), rate(gen)};
    const Masker masker(decoupled(0, 0, 0.3), vocab);
    const SequenceMasking m = masker.mask(ids, rates, masking_key(), s);
    int64_t eligible = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      if (!vocab.is_special[static_cast<size_t>(ids[t])]) {
        ++eligible;
        continue;
      }
      EXPECT_EQ(m.input[t], ids[t]);
      EXPECT_FALSE(m.predicted[t]);
      EXPECT_EQ(m.corruption[t], Corruption::NONE);
    }
    ASSERT_EQ(m.eligible, eligible);
    const double xp = static_cast<double>(eligible) * rates.predict,
                 xc = static_cast<double>(eligible) * rates.corrupt;
    const int64_t p = count(m.predicted), c = corrupted(m);
    EXPECT_TRUE(p == std::floor(xp) || p == std::ceil(xp)) << p << " predicted for target " << xp;
    EXPECT_TRUE(c == std::floor(xc) || c == std::ceil(xc)) << c << " corrupted for target " << xc;
  }
}

// Mean of S counts that are x plus Bernoulli/Binomial noise: a 5-sigma bound (two-sided
// false-alarm probability 6e-7) on the distance from the exact expectation.
void expect_mean_within_5_sigma(double sum, int64_t samples, double expected,
                                double variance_per_sample) {
  const double mean = sum / static_cast<double>(samples);
  EXPECT_NEAR(mean, expected, 5 * std::sqrt(variance_per_sample / static_cast<double>(samples)));
}

TEST(Masking, ExpectedCountIsExactAtShortLengths) {
  // n = 7, m = 0.15: the target 1.05 is 1 or 2 tokens with P(2) = 0.05, so the mean is
  // 1.05; plain rounding would give exactly 1.
  const Masker masker(decoupled(0.15, 0.15, 0), testing::plain_vocab(kVocab));
  const auto ids = all_words(7);
  constexpr int64_t kSequences = 20000;
  double predicted = 0, corrupt = 0;
  for (uint64_t s = 0; s < kSequences; ++s) {
    const SequenceMasking m = masker.mask(ids, {0.15, 0.15}, masking_key(), s);
    predicted += static_cast<double>(count(m.predicted));
    corrupt += static_cast<double>(corrupted(m));
  }
  expect_mean_within_5_sigma(predicted, kSequences, 1.05, 0.05 * 0.95);
  expect_mean_within_5_sigma(corrupt, kSequences, 1.05, 0.05 * 0.95);
}

TEST(Masking, WholeUnitsAtTheCutKeepTheExpectedCount) {
  // Four 3-token words, m = 0.15: target 1.8 tokens. The first unit in the order is taken
  // whole with probability 0.6, so counts are 0 or 3 with mean exactly 1.8.
  const auto v = testing::toy_vocab(testing::Family::WORDPIECE, {"a", "##b", "##c"});
  const auto ids =
      v.ids({"a", "##b", "##c", "a", "##b", "##c", "a", "##b", "##c", "a", "##b", "##c"});
  const Masker masker(decoupled(0.15, 0.15, 0, MaskingStrategy::WHOLE_WORD), v.info);
  constexpr int64_t kSequences = 20000;
  double predicted = 0;
  for (uint64_t s = 0; s < kSequences; ++s) {
    const SequenceMasking m = masker.mask(ids, {0.15, 0.15}, masking_key(), s);
    const int64_t p = count(m.predicted);
    ASSERT_TRUE(p == 0 || p == 3) << p;
    predicted += static_cast<double>(p);
  }
  expect_mean_within_5_sigma(predicted, kSequences, 1.8, 9 * 0.6 * 0.4);
}

TEST(Masking, PredictedAndCorruptedSetsAreNested) {
  const auto v =
      testing::toy_vocab(testing::Family::WORDPIECE, {"a", "##b", "##c", "d", "e", "##f"});
  std::vector<int32_t> ids{kCls};
  for (int i = 0; i < 20; ++i) {
    const auto word = v.ids(i % 3 == 0   ? std::vector<std::string>{"a", "##b", "##c"}
                            : i % 3 == 1 ? std::vector<std::string>{"d"}
                                         : std::vector<std::string>{"e", "##f"});
    ids.insert(ids.end(), word.begin(), word.end());
  }
  ids.push_back(kSep);
  for (auto strategy :
       {MaskingStrategy::UNIFORM, MaskingStrategy::WHOLE_WORD, MaskingStrategy::SPAN}) {
    for (const MaskRates rates :
         {MaskRates{0.1, 0.3}, {0.3, 0.1}, {0.2, 0.2}, {0.17, 0.19}, {0.19, 0.17}}) {
      const Masker masker(decoupled(0, 0, 0.5, strategy), v.info);
      for (uint64_t s = 0; s < 300; ++s) {
        const SequenceMasking m = masker.mask(ids, rates, masking_key(), s);
        for (size_t t = 0; t < ids.size(); ++t) {
          const bool c = m.corruption[t] != Corruption::NONE, p = m.predicted[t];
          if (rates.corrupt >= rates.predict) {
            EXPECT_TRUE(!p || c) << "predicted but not corrupted at " << t;
          }
          if (rates.corrupt <= rates.predict) {
            EXPECT_TRUE(!c || p) << "corrupted but not predicted at " << t;
          }
        }
      }
    }
  }
}

MaskingConfig config_from(const std::string& json_text) {
  return masking_config_from_json(nlohmann::json::parse(json_text), "masking");
}

TEST(Masking, BertShorthandGivesEightyTenTen) {
  const Masker masker(config_from(R"({"mask_rate": 0.15})"), testing::plain_vocab(kVocab));
  const auto ids = all_words(128);
  MaskingStats stats;
  for (uint64_t s = 0; s < 5000; ++s) {
    const SequenceMasking m = masker.mask(ids, masker.rates_at(0, 1), masking_key(), s);
    for (size_t t = 0; t < ids.size(); ++t)
      if (m.corruption[t] == Corruption::RANDOM) {
        EXPECT_GE(m.input[t], kFirstWord);
      }
    stats.add(m);
  }
  // Per sequence the predicted count is 19 or 20 (target 19.2) and the corrupted count 17
  // or 18 (17.28): means within 5 sigma of a Bernoulli.
  const auto S = stats.sequences;
  expect_mean_within_5_sigma(static_cast<double>(stats.predicted), S, 128 * 0.15, 0.25);
  expect_mean_within_5_sigma(static_cast<double>(stats.corrupted), S, 128 * 0.15 * 0.9, 0.25);
  // [MASK] vs random is a coin per corrupted token: Binomial(corrupted, 1/9), 5 sigma.
  const double c = static_cast<double>(stats.corrupted), q = 1.0 / 9;
  EXPECT_NEAR(static_cast<double>(stats.predicted_random), c * q, 5 * std::sqrt(c * q * (1 - q)));
  const nlohmann::json j = stats.to_json();
  // Kept = predicted - corrupted per sequence, mean 1.92 of 19.2; Hoeffding on its range
  // of 3 tokens per sequence over 5000 sequences bounds keep_frac within 0.006 (p < 1e-6).
  EXPECT_NEAR(j["keep_frac"].get<double>(), 0.1, 0.006);
  EXPECT_NEAR(j["mask_frac"].get<double>(), 0.8, 0.008);
  EXPECT_NEAR(j["random_frac"].get<double>(), 0.1, 0.006);
  EXPECT_DOUBLE_EQ(j["mean_unit_len"].get<double>(), 1.0);
  EXPECT_EQ(j["tokens"].get<int64_t>(), 128 * 5000);
}

TEST(Masking, RandomReplacementFollowsTheVocabularyDistribution) {
  // 20 ids, 16 non-special; uniform, and frequency-weighted with weight ∝ id (specials'
  // weights must be ignored). Chi-square with 15 df: P(chi2 > 56.49) = 1e-6.
  VocabInfo vocab = testing::plain_vocab(20);
  vocab.frequency.resize(20);
  for (int32_t id = 0; id < 20; ++id) vocab.frequency[static_cast<size_t>(id)] = id;
  vocab.frequency[kMask] = 1000;
  for (auto distribution : {ReplacementDistribution::UNIFORM, ReplacementDistribution::FREQUENCY}) {
    MaskingConfig config = decoupled(1, 1, 1);
    config.replacement = distribution;
    const Masker masker(config, vocab);
    std::vector<int64_t> observed(16, 0);
    std::vector<double> expected(16);
    double total_weight = 0;
    for (int32_t id = kFirstWord; id < 20; ++id) total_weight += id;
    for (int32_t id = kFirstWord; id < 20; ++id)
      expected[static_cast<size_t>(id - kFirstWord)] =
          distribution == ReplacementDistribution::UNIFORM ? 1.0 / 16 : id / total_weight;
    const std::vector<int32_t> ids(100, kFirstWord);
    for (uint64_t s = 0; s < 1600; ++s) {
      for (int32_t replaced : masker.mask(ids, {1, 1}, masking_key(), s).input) {
        ASSERT_GE(replaced, kFirstWord) << "a special token was drawn as a replacement";
        ++observed[static_cast<size_t>(replaced - kFirstWord)];
      }
    }
    EXPECT_LT(chi_square(observed, expected), 56.49);
  }
}

TEST(Masking, RejectsAWrongReplacementDistribution) {
  // The chi-square above can fail: uniform draws judged against the weighted distribution.
  std::vector<int64_t> observed(16, 10000);
  std::vector<double> weighted(16);
  for (int32_t k = 0; k < 16; ++k) weighted[static_cast<size_t>(k)] = (k + kFirstWord) / 184.0;
  EXPECT_GT(chi_square(observed, weighted), 56.49);
}

TEST(Masking, SpecialTokensAndPaddingAreNeverSelected) {
  const std::vector<int32_t> ids{kCls, 5, 6, kMask, 7, kSep, 8, 9, kSep, kPad, kPad, kPad};
  const Masker masker(decoupled(1, 1, 0.5), testing::plain_vocab(kVocab));
  for (uint64_t s = 0; s < 50; ++s) {
    const SequenceMasking m = masker.mask(ids, {1, 1}, masking_key(), s);
    EXPECT_EQ(m.eligible, 5);
    for (size_t t = 0; t < ids.size(); ++t) {
      const bool special = ids[t] < kFirstWord;
      EXPECT_EQ(m.predicted[t], !special) << t;
      EXPECT_EQ(m.corruption[t] == Corruption::NONE, special) << t;
      if (special) {
        EXPECT_EQ(m.input[t], ids[t]) << t;
      }
    }
  }
}

std::vector<uint8_t> predicted_set(const Masker& masker, const std::vector<int32_t>& ids,
                                   const RngKey& key, uint64_t sequence) {
  return masker.mask(ids, {0.5, 0.5}, key, sequence).predicted;
}

TEST(Masking, DeterministicForSeedStepRankAndSequence) {
  const Masker masker(decoupled(0.5, 0.5, 0.5), testing::plain_vocab(kVocab));
  const auto ids = all_words(512);
  const auto base = masker.mask(ids, {0.5, 0.5}, masking_key(3, 1, 99), 7);
  const auto again = masker.mask(ids, {0.5, 0.5}, masking_key(3, 1, 99), 7);
  EXPECT_EQ(base.input, again.input);
  EXPECT_EQ(base.predicted, again.predicted);
  RngKey other_substream = masking_key(3, 1, 99);
  other_substream.substream = 1;
  // With 256 of 512 positions chosen, two independent draws coincide with probability
  // 1 / C(512, 256).
  EXPECT_NE(predicted_set(masker, ids, masking_key(4, 1, 99), 7), base.predicted);
  EXPECT_NE(predicted_set(masker, ids, masking_key(3, 2, 99), 7), base.predicted);
  EXPECT_NE(predicted_set(masker, ids, masking_key(3, 1, 98), 7), base.predicted);
  EXPECT_NE(predicted_set(masker, ids, masking_key(3, 1, 99), 8), base.predicted);
  EXPECT_NE(predicted_set(masker, ids, other_substream, 7), base.predicted);
}

TEST(Masking, IndependentAcrossStepsRanksAndSequences) {
  // n = 100, m = 0.3: 30 predicted positions each. For independent draws the overlap is
  // hypergeometric, mean 9, variance 30·0.3·0.7·70/99 = 4.45; 5-sigma bound on the mean.
  const Masker masker(decoupled(0.3, 0.3, 0), testing::plain_vocab(kVocab));
  const auto ids = all_words(100);
  constexpr int64_t kSequences = 4000;
  const auto overlap = [&](const RngKey& a, const RngKey& b, uint64_t sequence_shift) {
    double total = 0;
    for (uint64_t s = 0; s < kSequences; ++s) {
      const auto x = masker.mask(ids, {0.3, 0.3}, a, s).predicted;
      const auto y = masker.mask(ids, {0.3, 0.3}, b, s + sequence_shift).predicted;
      for (size_t t = 0; t < x.size(); ++t) total += x[t] && y[t];
    }
    return total;
  };
  const double variance = 30 * 0.3 * 0.7 * 70.0 / 99;
  expect_mean_within_5_sigma(overlap(masking_key(0, 0), masking_key(1, 0), 0), kSequences, 9,
                             variance);
  expect_mean_within_5_sigma(overlap(masking_key(0, 0), masking_key(0, 1), 0), kSequences, 9,
                             variance);
  expect_mean_within_5_sigma(overlap(masking_key(0, 0), masking_key(0, 0), 1), kSequences, 9,
                             variance);
}

TEST(Masking, AppendsSequencesToTheBatch) {
  const Masker masker(decoupled(0.5, 0.5, 0.5), testing::plain_vocab(kVocab));
  const std::vector<int32_t> first{kCls, 10, 11, 12, kSep}, second{kCls, 20, 21, 22, 23, 24, kSep};
  Batch batch;
  masker.mask_sequence(first, {0.5, 0.5}, masking_key(), 0, batch);
  masker.mask_sequence(second, {0.5, 0.5}, masking_key(), 1, batch);
  batch.validate(kVocab, 16, 1);
  EXPECT_EQ(batch.cu_seqlens, (std::vector<int32_t>{0, 5, 12}));
  EXPECT_EQ(batch.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6}));
  const auto a = masker.mask(first, {0.5, 0.5}, masking_key(), 0);
  const auto b = masker.mask(second, {0.5, 0.5}, masking_key(), 1);
  std::vector<int32_t> expected_input = a.input, expected_index, expected_labels;
  expected_input.insert(expected_input.end(), b.input.begin(), b.input.end());
  for (size_t t = 0; t < first.size(); ++t)
    if (a.predicted[t])
      expected_index.push_back(static_cast<int32_t>(t)), expected_labels.push_back(first[t]);
  for (size_t t = 0; t < second.size(); ++t)
    if (b.predicted[t])
      expected_index.push_back(static_cast<int32_t>(5 + t)), expected_labels.push_back(second[t]);
  EXPECT_EQ(batch.tokens, expected_input);
  EXPECT_EQ(batch.predict_index, expected_index);
  EXPECT_EQ(batch.labels, expected_labels);
}

TEST(Masking, RejectsBadInput) {
  const Masker masker(decoupled(0.5, 0.5, 0.5), testing::plain_vocab(kVocab));
  expect_error(
      [&] {
        masker.mask(std::vector<int32_t>{5, kVocab}, {0.5, 0.5}, masking_key(), 0);
      },
      {"token id 40", "outside the vocabulary"});
  expect_error(
      [&] {
        masker.mask(std::vector<int32_t>{5}, {1.5, 0.5}, masking_key(), 0);
      },
      "[0, 1]");
  RngKey dropout = masking_key();
  dropout.stream = RngStream::HIDDEN_DROPOUT;
  expect_error(
      [&] {
        masker.mask(std::vector<int32_t>{5}, {0.5, 0.5}, dropout, 0);
      },
      "RngStream::MASKING");
  expect_error(
      [] { Masker(decoupled(0.1, 0.1, 0, MaskingStrategy::PMI), testing::plain_vocab(kVocab)); },
      "PMI vocabulary");
  VocabInfo no_mask = testing::plain_vocab(kVocab);
  no_mask.mask_id = -1;
  expect_error([&] { Masker(decoupled(0.1, 0.1, 0.5), no_mask); }, "mask token");
  VocabInfo unweighted = testing::plain_vocab(kVocab);
  MaskingConfig weighted = decoupled(0.1, 0.1, 0.5);
  weighted.replacement = ReplacementDistribution::FREQUENCY;
  expect_error([&] { Masker(weighted, unweighted); }, "frequencies");
}

}  // namespace
}  // namespace masklm
