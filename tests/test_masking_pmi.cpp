// PMI vocabulary: the builder against a hand computation on a toy corpus, and the file
// round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "expect_error.h"
#include "masking/pmi_builder.h"

namespace masklm {
namespace {

using testing::expect_error;

constexpr int32_t a = 1, b = 2, c = 3, d = 4;

// Three spans: "a b c a b", "a b d", "c a b c".
TokenCorpus toy_corpus() {
  static const std::vector<std::vector<int32_t>> spans{{a, b, c, a, b}, {a, b, d}, {c, a, b, c}};
  return [](const TokenSpanVisitor& visit) {
    for (const auto& s : spans) visit(s);
  };
}

TEST(PmiBuilder, MatchesAHandComputation) {
  // Unigrams (12 positions): a 4, b 4, c 3, d 1 (below min_count 2).
  // Bigrams (9 positions): ab 4, bc 2, ca 2 (bd has the infrequent d: not counted).
  // Trigrams (6 positions): abc 2, cab 2, bca 1 (pruned); abd not counted.
  //   PMI(ab)  = log (4/9) / (4/12 · 4/12)                            = log 4
  //   PMI(bc)  = log (2/9) / (4/12 · 3/12) = PMI(ca)                  = log 8/3
  //   PMI(abc) = min(log (2/6)/(4/12 · 2/9) = log 9/2,   [a][bc]
  //                  log (2/6)/(4/9 · 3/12) = log 3,     [ab][c]
  //                  log (2/6)/(4/12 · 4/12 · 3/12) = log 12)         = log 3
  //   PMI(cab) = min(log 3 [c][ab], log 9/2 [ca][b], log 12)          = log 3
  // The naive log p(abc)/(p(a)p(b)p(c)) = log 12 would rank abc above ab.
  const PmiVocabulary vocab = build_pmi_vocabulary(toy_corpus(), {3, 2, 4});
  const std::vector<PmiNgram> expected{
      {{a, b}, 4, std::log(4.0)},
      {{a, b, c}, 2, std::log(3.0)},
      {{c, a, b}, 2, std::log(3.0)},
      {{b, c}, 2, std::log(8.0 / 3)}};  // top 4: ca (tied with bc) dropped
  ASSERT_EQ(vocab.ngrams().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(vocab.ngrams()[i].ids, expected[i].ids) << i;
    EXPECT_EQ(vocab.ngrams()[i].count, expected[i].count) << i;
    EXPECT_NEAR(vocab.ngrams()[i].score, expected[i].score, 1e-12) << i;
  }
  EXPECT_EQ(vocab.max_n(), 3);
  EXPECT_TRUE(vocab.contains(std::vector<int32_t>{c, a, b}));
  EXPECT_FALSE(vocab.contains(std::vector<int32_t>{c, a}));
}

TEST(PmiBuilder, MinCountAndMaxN) {
  const PmiVocabulary bigrams = build_pmi_vocabulary(toy_corpus(), {2, 3, 100});
  ASSERT_EQ(bigrams.ngrams().size(), 1u);  // only ab occurs 3+ times
  EXPECT_EQ(bigrams.ngrams()[0].ids, (std::vector<int32_t>{a, b}));
  const PmiVocabulary all = build_pmi_vocabulary(toy_corpus(), {5, 1, 1000});
  EXPECT_EQ(all.max_n(), 5);  // "a b c a b" occurs once
  expect_error([] { build_pmi_vocabulary(toy_corpus(), {6, 1, 10}); }, "max_n");
  expect_error([] { build_pmi_vocabulary(toy_corpus(), {3, 0, 10}); }, "min_count");
}

TEST(PmiVocabularyFile, RoundTripsAndRejectsBadFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "masklm_test_masking_pmi";
  std::filesystem::create_directories(dir);
  const PmiVocabulary vocab = build_pmi_vocabulary(toy_corpus(), {3, 2, 10});
  vocab.save(dir / "pmi.txt");
  const PmiVocabulary loaded = PmiVocabulary::load(dir / "pmi.txt");
  ASSERT_EQ(loaded.ngrams().size(), vocab.ngrams().size());
  for (size_t i = 0; i < vocab.ngrams().size(); ++i) {
    EXPECT_EQ(loaded.ngrams()[i].ids, vocab.ngrams()[i].ids);
    EXPECT_EQ(loaded.ngrams()[i].count, vocab.ngrams()[i].count);
    EXPECT_EQ(loaded.ngrams()[i].score, vocab.ngrams()[i].score);  // 17 digits: exact
  }
  const auto write = [&](const std::string& text) {
    std::ofstream(dir / "bad.txt") << text;
    return dir / "bad.txt";
  };
  expect_error([&] { PmiVocabulary::load(write("something else\n")); },
               "not a masklm PMI vocabulary");
  expect_error([&] { PmiVocabulary::load(write("masklm-pmi-vocab 1\n1.5 3 7 x\n")); }, "bad.txt:2");
  expect_error([&] { PmiVocabulary::load(write("masklm-pmi-vocab 1\n1.5 3 7\n")); }, "at least 2");
  expect_error([&] { PmiVocabulary::load(write("masklm-pmi-vocab 1\n1 3 1 2 3 4 5 6\n")); },
               "2 to 5");
  expect_error([&] { PmiVocabulary::load(dir / "missing.txt"); }, "cannot open");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace masklm
