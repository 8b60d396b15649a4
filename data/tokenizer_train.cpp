#include "data/tokenizer_train.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "data/tokenizer_pipeline.h"
#include "data/tokenizer_train_merges.h"
#include "data/unicode.h"
#include "runtime/error.h"

namespace masklm {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using tokenizer_detail::WordCount;

struct KindNames {
  const char* cls;
  const char* sep;
  const char* unk;  // nullptr: byte-level BPE needs none
};

KindNames names_of(TokenizerKind kind) {
  return kind == TokenizerKind::BPE ? KindNames{"<s>", "</s>", nullptr}
                                    : KindNames{"[CLS]", "[SEP]", "[UNK]"};
}

int32_t id_of(const std::vector<std::string>& vocab, const std::string& token) {
  return static_cast<int32_t>(std::find(vocab.begin(), vocab.end(), token) - vocab.begin());
}

// The whole tokenizer.json. RoBERTa's layout for BPE (no prefix space, <mask> swallowing
// the spaces before it), BERT's uncased one for WordPiece.
ordered_json tokenizer_config(TokenizerKind kind, const std::vector<std::string>& vocab,
                              size_t special_count,
                              const std::vector<std::pair<std::string, std::string>>& merges) {
  const KindNames names = names_of(kind);
  const bool bpe = kind == TokenizerKind::BPE;
  ordered_json config = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  config["added_tokens"] = ordered_json::array();
  for (size_t id = 0; id < special_count; ++id) {
    config["added_tokens"].push_back({{"id", id},
                                      {"content", vocab[id]},
                                      {"single_word", false},
                                      {"lstrip", bpe && vocab[id] == "<mask>"},
                                      {"rstrip", false},
                                      {"normalized", false},
                                      {"special", true}});
  }
  const ordered_json cls = {names.cls, id_of(vocab, names.cls)};
  const ordered_json sep = {names.sep, id_of(vocab, names.sep)};
  ordered_json vocab_json = ordered_json::object();
  for (size_t id = 0; id < vocab.size(); ++id) vocab_json[vocab[id]] = id;
  if (bpe) {
    const ordered_json byte_level = {{"type", "ByteLevel"},
                                     {"add_prefix_space", false},
                                     {"trim_offsets", true},
                                     {"use_regex", true}};
    config["normalizer"] = nullptr;
    config["pre_tokenizer"] = byte_level;
    config["post_processor"] = {{"type", "RobertaProcessing"},
                                {"sep", sep},
                                {"cls", cls},
                                {"trim_offsets", true},
                                {"add_prefix_space", false}};
    config["decoder"] = byte_level;
    ordered_json merge_list = ordered_json::array();
    for (const auto& [left, right] : merges) merge_list.push_back({left, right});
    config["model"] = {{"type", "BPE"},
                       {"dropout", nullptr},
                       {"unk_token", nullptr},
                       {"continuing_subword_prefix", nullptr},
                       {"end_of_word_suffix", nullptr},
                       {"fuse_unk", false},
                       {"byte_fallback", false},
                       {"ignore_merges", false},
                       {"vocab", vocab_json},
                       {"merges", merge_list}};
  } else {
    config["normalizer"] = {{"type", "BertNormalizer"},
                            {"clean_text", true},
                            {"handle_chinese_chars", true},
                            {"strip_accents", nullptr},
                            {"lowercase", true}};
    config["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
    config["post_processor"] = {{"type", "BertProcessing"}, {"sep", sep}, {"cls", cls}};
    config["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
    config["model"] = {{"type", "WordPiece"},
                       {"unk_token", names.unk},
                       {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100},
                       {"vocab", vocab_json}};
  }
  return config;
}

// Words as the encoder's own normalizer and pre-tokenizer see them, with their counts.
std::map<std::string, int64_t> count_words(const tokenizer_detail::Pipeline& pipeline,
                                           std::span<const std::string> lines) {
  std::map<std::string, int64_t> counts;
  tokenizer_detail::Normalized normalized;
  std::vector<tokenizer_detail::Span> words;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    normalized.clear(), words.clear();
    pipeline.split_words(line, 0, normalized, words);
    for (const auto& w : words) ++counts[normalized.text.substr(w.begin, w.end - w.begin)];
  }
  return counts;
}

// WordPiece spelling: the first character alone, the others as "##" continuations.
std::vector<std::string> wordpiece_symbols(std::string_view word) {
  std::vector<std::string> symbols;
  for (size_t pos = 0, length = 0; pos < word.size(); pos += length) {
    unicode::decode_utf8(word, pos, length);
    symbols.push_back((pos > 0 ? "##" : "") + std::string(word.substr(pos, length)));
  }
  return symbols;
}

std::string merge_bpe(const std::string& left, const std::string& right) { return left + right; }

std::string merge_wordpiece(const std::string& left, const std::string& right) {
  return left + (right.starts_with("##") ? right.substr(2) : right);
}

}  // namespace

TokenizerKind parse_tokenizer_kind(std::string_view name) {
  if (name == "bpe") return TokenizerKind::BPE;
  if (name == "wordpiece") return TokenizerKind::WORDPIECE;
  MASKLM_FAIL("unknown tokenizer kind '{}' (use bpe or wordpiece)", name);
}

std::vector<std::string> default_special_tokens(TokenizerKind kind) {
  if (kind == TokenizerKind::BPE) return {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
}

void train_tokenizer(TokenizerKind kind, int64_t vocab_size, std::span<const std::string> lines,
                     std::span<const std::string> special_tokens,
                     const std::filesystem::path& out) {
  const KindNames names = names_of(kind);
  std::vector<std::string> vocab(special_tokens.begin(), special_tokens.end());
  MASKLM_CHECK(std::set<std::string>(vocab.begin(), vocab.end()).size() == vocab.size(),
               "tokenizer training: a special token is listed twice");
  for (const char* name : {names.cls, names.sep, names.unk}) {
    MASKLM_CHECK(!name || std::find(vocab.begin(), vocab.end(), name) != vocab.end(),
                 "tokenizer training: the special tokens must include {}", name);
  }
  const size_t special_count = vocab.size();
  // The alphabet first: all 256 bytes for byte-level BPE (so nothing is ever unknown).
  const bool bpe = kind == TokenizerKind::BPE;
  if (bpe) {
    for (const std::string& byte : tokenizer_detail::byte_alphabet()) vocab.push_back(byte);
  }
  tokenizer_detail::Vocab initial;
  const json skeleton = json::parse(tokenizer_config(kind, vocab, special_count, {}).dump());
  const auto pipeline = bpe ? tokenizer_detail::make_byte_level_bpe_pipeline(skeleton, initial)
                            : tokenizer_detail::make_wordpiece_pipeline(skeleton, initial);
  std::vector<WordCount> words;
  std::set<std::string> alphabet;
  for (const auto& [word, count] : count_words(*pipeline, lines)) {
    WordCount w{{}, count};
    if (bpe) {
      for (unsigned char b : word) w.symbols.push_back(tokenizer_detail::byte_alphabet()[b]);
    } else {
      w.symbols = wordpiece_symbols(word);
      alphabet.insert(w.symbols.begin(), w.symbols.end());
    }
    words.push_back(std::move(w));
  }
  for (const std::string& symbol : alphabet)
    if (std::find(vocab.begin(), vocab.end(), symbol) == vocab.end()) vocab.push_back(symbol);
  MASKLM_CHECK(vocab_size >= static_cast<int64_t>(vocab.size()),
               "tokenizer training: vocab size {} is below the {} special tokens and alphabet "
               "symbols the corpus needs",
               vocab_size, vocab.size());
  const auto merges = tokenizer_detail::learn_merges(std::move(words), vocab, vocab_size,
                                                     bpe ? merge_bpe : merge_wordpiece);
  std::ofstream file(out);
  file << tokenizer_config(kind, vocab, special_count, bpe ? merges : decltype(merges){}).dump(2)
       << '\n';
  MASKLM_CHECK(file.good(), "cannot write tokenizer file {}", out.string());
}

}  // namespace masklm
