// Whole-word units from real tokenizers (the committed WordPiece and byte-level BPE
// fixtures) against the words the tokenizer itself reports (Encoding::word_ids, identical
// to the tokenizers package).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "data/tokenizer.h"
#include "masking/unit_segmenter.h"
#include "test_masking_support.h"

namespace masklm {
namespace {

std::vector<std::string> corpus_lines() {
  std::ifstream in(std::string(MASKLM_FIXTURE_DIR) + "/tokenizer_corpus.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line) && lines.size() < 20;)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::vector<MaskingUnit> word_units(const VocabInfo& vocab, const std::vector<int32_t>& ids) {
  MaskingConfig config;
  config.strategy = MaskingStrategy::WHOLE_WORD;
  const UnitSegmenter segmenter(config, vocab, nullptr);
  SequenceRng rng(testing::masking_key(), 0);
  std::vector<MaskingUnit> units;
  segmenter.segment(ids, rng, units);
  return units;
}

TEST(MaskingTokenizers, SpecialsAndMaskFromTheTokenizer) {
  for (const char* file : {"tokenizer_wordpiece.json", "tokenizer_bpe.json"}) {
    const auto tokenizer = Tokenizer::load(std::string(MASKLM_FIXTURE_DIR) + "/" + file);
    const VocabInfo vocab = vocab_info_from_tokenizer(*tokenizer);
    const SpecialTokens& sp = tokenizer->special_tokens();
    EXPECT_EQ(vocab.size, tokenizer->vocab_size());
    EXPECT_EQ(vocab.mask_id, sp.mask);
    for (int32_t id : {sp.pad, sp.unk, sp.mask, sp.cls, sp.sep})
      EXPECT_TRUE(vocab.is_special[static_cast<size_t>(id)]);
  }
}

TEST(MaskingTokenizers, WordPieceUnitsAreTheTokenizersWords) {
  const auto tokenizer =
      Tokenizer::load(std::string(MASKLM_FIXTURE_DIR) + "/tokenizer_wordpiece.json");
  const VocabInfo vocab = vocab_info_from_tokenizer(*tokenizer);
  for (const std::string& line : corpus_lines()) {
    const Encoding e = tokenizer->encode(line, true);
    for (const MaskingUnit& u : word_units(vocab, e.ids)) {
      const int32_t word = e.word_ids[static_cast<size_t>(u.begin)];
      for (int32_t t = u.begin; t < u.end; ++t)
        EXPECT_EQ(e.word_ids[static_cast<size_t>(t)], word) << line;
      EXPECT_TRUE(u.end == static_cast<int32_t>(e.ids.size()) ||
                  e.word_ids[static_cast<size_t>(u.end)] != word)
          << line;
    }
  }
}

TEST(MaskingTokenizers, ByteLevelBpeUnitsNeverSplitATokenizersWord) {
  // From spelling alone, punctuation without a leading Ġ joins the word before it ("end."
  // is one unit); a unit may hold several of the tokenizer's words but never splits one.
  const auto tokenizer = Tokenizer::load(std::string(MASKLM_FIXTURE_DIR) + "/tokenizer_bpe.json");
  const VocabInfo vocab = vocab_info_from_tokenizer(*tokenizer);
  int64_t units = 0;
  for (const std::string& line : corpus_lines()) {
    const Encoding e = tokenizer->encode(line, true);
    for (const MaskingUnit& u : word_units(vocab, e.ids)) {
      ++units;
      const auto word_before = e.word_ids[static_cast<size_t>(u.begin - 1)];
      EXPECT_NE(e.word_ids[static_cast<size_t>(u.begin)], word_before) << line;
    }
  }
  EXPECT_GT(units, 100);
}

}  // namespace
}  // namespace masklm
