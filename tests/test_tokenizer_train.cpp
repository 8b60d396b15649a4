// Tokenizer training: merges on toy corpora computed by hand, and on the parity corpus a
// committed file the trainer must reproduce byte for byte, which the `tokenizers` package
// encodes exactly as masklm does (tests/fixtures/make_tokenizer_fixtures.py recorded it).
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "data/tokenizer_train.h"
#include "expect_error.h"
#include "test_tokenizer_support.h"

namespace masklm {
namespace {

using testing::corpus_lines;
using testing::expect_error;
using testing::expect_hf_parity;
using testing::fixture;
using testing::read_json;

constexpr int64_t kTrainedBpeVocab = 600, kTrainedWordPieceVocab = 450;

std::filesystem::path temp_json(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("masklm_" + name + "_" + std::to_string(::getpid()) + ".json");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void train(TokenizerKind kind, int64_t vocab_size, const std::vector<std::string>& lines,
           const std::filesystem::path& out) {
  train_tokenizer(kind, vocab_size, lines, default_special_tokens(kind), out);
}

// Regenerates the committed fixtures; run it, then make_tokenizer_fixtures.py.
TEST(TokenizerTrain, DISABLED_WriteTrainedFixtures) {
  train(TokenizerKind::BPE, kTrainedBpeVocab, corpus_lines(), fixture("trained_bpe.json"));
  train(TokenizerKind::WORDPIECE, kTrainedWordPieceVocab, corpus_lines(),
        fixture("trained_wordpiece.json"));
}

TEST(TokenizerTrain, ReproducesTheCommittedFiles) {
  for (const auto& [kind, vocab_size, name] :
       {std::tuple{TokenizerKind::BPE, kTrainedBpeVocab, "trained_bpe.json"},
        std::tuple{TokenizerKind::WORDPIECE, kTrainedWordPieceVocab, "trained_wordpiece.json"}}) {
    const auto out = temp_json("trained");
    train(kind, vocab_size, corpus_lines(), out);
    EXPECT_EQ(read_file(out), read_file(fixture(name))) << name;
    EXPECT_EQ(Tokenizer::load(out)->vocab_size(), vocab_size) << name;
    std::filesystem::remove(out);
  }
}

TEST(TokenizerTrain, TrainedBpeEncodesLikeHuggingFace) {
  expect_hf_parity(*Tokenizer::load(fixture("trained_bpe.json")), "trained_bpe");
}

TEST(TokenizerTrain, TrainedWordPieceEncodesLikeHuggingFace) {
  expect_hf_parity(*Tokenizer::load(fixture("trained_wordpiece.json")), "trained_wordpiece");
}

TEST(TokenizerTrain, BpeMergesByHand) {
  // Words (no prefix space): "ab" x1, "Ġab" x2, "Ġabc" x1. Pairs: (a,b) 4, (Ġ,a) 3, (b,c) 1:
  // merge a+b, then (Ġ,ab) 3; (Ġab,c) occurs once, so training stops there.
  const auto out = temp_json("bpe_by_hand");
  train(TokenizerKind::BPE, 1000, {"ab ab ab abc"}, out);
  const auto config = read_json(out);
  EXPECT_EQ(config["model"]["merges"], nlohmann::json::parse(R"([["a", "b"], ["\u0120", "ab"]])"));
  const auto tok = Tokenizer::load(out);
  EXPECT_EQ(tok->vocab_size(), 5 + 256 + 2);
  EXPECT_EQ(tok->id_to_token(5 + 256 + 1),
            "\xC4\xA0"
            "ab");
  const Encoding e = tok->encode("ab abc", true);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 5 + 256, 5 + 256 + 1, tok->token_to_id("c"), 2}));
  std::filesystem::remove(out);
}

TEST(TokenizerTrain, WordPieceMergesByHand) {
  // Words: "hug" x2, "hugs" x1, spelled h ##u ##g (##s). Alphabet ids after the 5 specials:
  // ##g 5, ##s 6, ##u 7, h 8. (h,##u) and (##u,##g) both occur 3 times; the pair with the
  // lower left id wins: ##ug (9), then hug (10); (hug,##s) occurs once.
  const auto out = temp_json("wordpiece_by_hand");
  train(TokenizerKind::WORDPIECE, 1000, {"hug HUGS hug"}, out);
  const auto tok = Tokenizer::load(out);
  EXPECT_EQ(tok->vocab_size(), 11);
  EXPECT_EQ(tok->id_to_token(9), "##ug");
  EXPECT_EQ(tok->id_to_token(10), "hug");
  EXPECT_EQ(tok->encode("Hugs", true).ids, (std::vector<int32_t>{2, 10, 6, 3}));
  EXPECT_EQ(tok->encode("gush", true).ids, (std::vector<int32_t>{2, 1, 3}));  // [UNK]
  std::filesystem::remove(out);
}

TEST(TokenizerTrain, BadRequestsAreErrors) {
  const auto out = temp_json("bad");
  const std::vector<std::string> lines = {"some text"};
  expect_error([&] { train(TokenizerKind::BPE, 100, lines, out); }, "below");
  const std::vector<std::string> no_cls = {"[PAD]", "[UNK]", "[SEP]"};
  expect_error([&] { train_tokenizer(TokenizerKind::WORDPIECE, 100, lines, no_cls, out); },
               "[CLS]");
  expect_error([] { parse_tokenizer_kind("unigram"); }, "unigram");
  EXPECT_EQ(parse_tokenizer_kind("wordpiece"), TokenizerKind::WORDPIECE);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace masklm
