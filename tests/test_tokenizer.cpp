// Tokenizers against the `tokenizers` package: every line of a corpus full of Unicode edge
// cases, and texts with added tokens inside, must give the same ids, byte offsets, word ids
// and decoded text (fixtures from tests/fixtures/make_tokenizer_fixtures.py).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "expect_error.h"
#include "runtime/threads.h"
#include "test_tokenizer_support.h"

namespace masklm {
namespace {

using testing::corpus_lines;
using testing::expect_error;
using testing::expect_hf_parity;
using testing::fixture;
using testing::read_json;

TEST(TokenizerParity, WordPieceMatchesHuggingFace) {
  expect_hf_parity(*Tokenizer::load(fixture("tokenizer_wordpiece.json")), "wordpiece");
}

TEST(TokenizerParity, ByteLevelBpeMatchesHuggingFace) {
  expect_hf_parity(*Tokenizer::load(fixture("tokenizer_bpe.json")), "bpe");
}

TEST(Tokenizer, WithoutSpecialTokensDropsOnlyThePostProcessorTokens) {
  for (const char* name : {"tokenizer_wordpiece.json", "tokenizer_bpe.json"}) {
    const auto tok = Tokenizer::load(fixture(name));
    const std::string text = "It's 3.14, café!";
    const Encoding with = tok->encode(text, true), without = tok->encode(text, false);
    ASSERT_EQ(with.ids.size(), without.ids.size() + 2) << name;
    EXPECT_EQ(with.ids.front(), tok->special_tokens().cls);
    EXPECT_EQ(with.ids.back(), tok->special_tokens().sep);
    EXPECT_EQ(std::vector<int32_t>(with.ids.begin() + 1, with.ids.end() - 1), without.ids);
  }
}

TEST(Tokenizer, BatchEncodingEqualsOneByOne) {
  const auto tok = Tokenizer::load(fixture("tokenizer_bpe.json"));
  std::vector<std::string> texts;
  for (int repeat = 0; repeat < 20; ++repeat)
    for (const std::string& line : corpus_lines()) texts.push_back(line);
  set_num_threads(4);
  const std::vector<Encoding> batch = tok->encode_batch(texts, true);
  set_num_threads(0);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Encoding one = tok->encode(texts[i], true);
    ASSERT_EQ(batch[i].ids, one.ids) << texts[i];
    ASSERT_EQ(batch[i].offsets, one.offsets) << texts[i];
  }
}

TEST(Tokenizer, SpecialTokensAndWordStarts) {
  const auto wp = Tokenizer::load(fixture("tokenizer_wordpiece.json"));
  EXPECT_EQ(wp->word_boundary(), WordBoundary::CONTINUATION_PREFIX);
  const SpecialTokens& s = wp->special_tokens();
  EXPECT_EQ(wp->id_to_token(s.cls), "[CLS]");
  EXPECT_EQ(wp->id_to_token(s.sep), "[SEP]");
  EXPECT_EQ(wp->id_to_token(s.mask), "[MASK]");
  EXPECT_EQ(wp->id_to_token(s.pad), "[PAD]");
  EXPECT_EQ(wp->id_to_token(s.unk), "[UNK]");
  for (int32_t id : {s.cls, s.sep, s.mask, s.pad, s.unk}) EXPECT_TRUE(wp->is_special(id));
  const int32_t ing = wp->token_to_id("##ing"), the = wp->token_to_id("the");
  ASSERT_GE(ing, 0);
  ASSERT_GE(the, 0);
  EXPECT_FALSE(wp->is_special(the));
  EXPECT_FALSE(wp->starts_word(ing));
  EXPECT_TRUE(wp->starts_word(the));
  EXPECT_TRUE(wp->starts_word(s.cls));
  EXPECT_EQ(wp->token_to_id("no such token"), -1);

  const auto bpe = Tokenizer::load(fixture("tokenizer_bpe.json"));
  EXPECT_EQ(bpe->word_boundary(), WordBoundary::SPACE_PREFIX_G);
  EXPECT_EQ(bpe->id_to_token(bpe->special_tokens().cls), "<s>");
  EXPECT_EQ(bpe->id_to_token(bpe->special_tokens().mask), "<mask>");
  const int32_t g_the = bpe->token_to_id("\xC4\xA0the"), bare = bpe->token_to_id("ing");
  ASSERT_GE(g_the, 0);
  ASSERT_GE(bare, 0);
  EXPECT_TRUE(bpe->starts_word(g_the));
  EXPECT_FALSE(bpe->starts_word(bare));
  EXPECT_TRUE(bpe->starts_word(bpe->special_tokens().sep));
}

// A three-token vocabulary to check starts_word for metaspace and vocab_hash exactly.
class ListTokenizer final : public Tokenizer {
 public:
  ListTokenizer(std::vector<std::string> tokens, WordBoundary boundary)
      : tokens_(std::move(tokens)), boundary_(boundary) {}
  Encoding encode(std::string_view, bool) const override { return {}; }
  std::string decode(const std::vector<int32_t>&, bool) const override { return {}; }
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::string id_to_token(int32_t id) const override { return tokens_.at(id); }
  int32_t token_to_id(std::string_view) const override { return -1; }
  const SpecialTokens& special_tokens() const override { return specials_; }
  bool is_special(int32_t id) const override { return id == 0; }
  WordBoundary word_boundary() const override { return boundary_; }

 private:
  std::vector<std::string> tokens_;
  WordBoundary boundary_;
  SpecialTokens specials_;
};

TEST(Tokenizer, StartsWordForMetaspace) {
  const ListTokenizer tok({"<pad>", "\xE2\x96\x81word", "piece"}, WordBoundary::SPACE_PREFIX_META);
  EXPECT_TRUE(tok.starts_word(0));
  EXPECT_TRUE(tok.starts_word(1));
  EXPECT_FALSE(tok.starts_word(2));
}

TEST(Tokenizer, VocabHashIsFnv1aOverIdsAndTokens) {
  // python3: h = 0xcbf29ce484222325; for each (i, t): for b in i.to_bytes(4, "little") +
  // t.encode() + b"\xff": h = ((h ^ b) * 0x100000001b3) % 2**64
  const ListTokenizer tok({"[PAD]", "##ab",
                           "\xC4\xA0"
                           "c"},
                          WordBoundary::CONTINUATION_PREFIX);
  EXPECT_EQ(tok.vocab_hash(), 0x4c809112ea4281c8ull);
  const ListTokenizer swapped({"[PAD]",
                               "\xC4\xA0"
                               "c",
                               "##ab"},
                              WordBoundary::CONTINUATION_PREFIX);
  EXPECT_NE(swapped.vocab_hash(), tok.vocab_hash());
  const auto a = Tokenizer::load(fixture("tokenizer_bpe.json"));
  const auto b = Tokenizer::load(fixture("tokenizer_bpe.json"));
  const auto c = Tokenizer::load(fixture("tokenizer_wordpiece.json"));
  EXPECT_EQ(a->vocab_hash(), b->vocab_hash());
  EXPECT_NE(a->vocab_hash(), c->vocab_hash());
}

// Writes fixture `name` with one change applied, so each unsupported setting is tested alone.
std::filesystem::path modified(const char* name, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = read_json(fixture(name));
  edit(config);
  const auto path = std::filesystem::temp_directory_path() /
                    ("masklm_test_tokenizer_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << config.dump();
  return path;
}

void expect_load_error(const char* name, const std::function<void(nlohmann::json&)>& edit,
                       std::string_view expected) {
  const auto path = modified(name, edit);
  expect_error([&] { Tokenizer::load(path); }, expected);
  std::filesystem::remove(path);
}

TEST(Tokenizer, UnsupportedSettingsAreNamed) {
  using nlohmann::json;
  struct Case {
    const char* name;
    const char* pointer;  // the setting to change (RFC 6901 JSON pointer)
    json value;
    const char* expected;  // in the error message
  };
  const char* wp = "tokenizer_wordpiece.json";
  const char* bpe = "tokenizer_bpe.json";
  const Case cases[] = {
      {wp, "/normalizer", {{"type", "NFKC"}}, "NFKC"},
      {wp, "/pre_tokenizer", {{"type", "Whitespace"}}, "Whitespace"},
      {wp, "/model/type", "Unigram", "Unigram"},
      {wp, "/truncation", {{"max_length", 8}}, "truncation"},
      {wp, "/post_processor", {{"type", "Sequence"}}, "Sequence"},
      {wp, "/decoder", {{"type", "Metaspace"}}, "Metaspace"},
      {wp, "/model/unk_token", "<nope>", "<nope>"},
      {wp, "/added_tokens/0/normalized", true, "normalized"},
      {wp, "/added_tokens/0/single_word", true, "single_word"},
      {bpe, "/model/dropout", 0.1, "dropout"},
      {bpe, "/model/byte_fallback", true, "byte_fallback"},
      {bpe, "/model/end_of_word_suffix", "</w>", "end_of_word_suffix"},
      {bpe, "/normalizer", {{"type", "Lowercase"}}, "Lowercase"},
      {bpe, "/model/merges/0", "a b c", "merge 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    expect_load_error(
        c.name, [&](json& config) { config[json::json_pointer(c.pointer)] = c.value; }, c.expected);
  }
  expect_load_error(
      bpe, [](json& config) { config["model"]["vocab"].erase("\xC4\xA0"); }, "0x20");
  expect_error([] { Tokenizer::load(fixture("no_such_tokenizer.json")); }, "cannot open");
}

TEST(Tokenizer, InvalidUtf8IsAnErrorNamingTheByte) {
  const auto tok = Tokenizer::load(fixture("tokenizer_bpe.json"));
  expect_error([&] { tok->encode("ok \xC3\x28 bad", true); }, {"invalid UTF-8", "byte 3"});
  expect_error([&] { tok->encode("\xED\xA0\x80", true); }, "byte 0");  // a surrogate
  expect_error([&] { tok->id_to_token(static_cast<int32_t>(tok->vocab_size())); }, "outside");
}

TEST(Tokenizer, ByteLevelDecodingReplacesBrokenUtf8) {
  const auto tok = Tokenizer::load(fixture("tokenizer_bpe.json"));
  // The first byte of "é" (0xC3, spelled "Ã") alone decodes to U+FFFD, as in Hugging Face.
  const int32_t lone = tok->token_to_id("\xC3\x83");
  ASSERT_GE(lone, 0);
  EXPECT_EQ(tok->decode({lone, tok->token_to_id("a")}, true),
            "\xEF\xBF\xBD"
            "a");
}

}  // namespace
}  // namespace masklm
