// Inside the tokenizers (not installed API): the steps every tokenizer.json runs through,
// in Hugging Face's order. Added tokens are split out of the raw text first
// (tokenizer.cpp); each remaining segment is normalized and pre-tokenized into words, and
// each word is tokenized by the model. A Pipeline is one supported family: BERT's
// normalizer + BertPreTokenizer + WordPiece, or ByteLevel + BPE.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace masklm::tokenizer_detail {

using Offsets = std::pair<size_t, size_t>;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Token strings by id and ids by token string: the model's vocabulary plus added tokens.
struct Vocab {
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;
  std::vector<std::string> tokens;  // "" for ids nobody defines

  int32_t find(std::string_view token) const {
    const auto it = ids.find(token);
    return it == ids.end() ? -1 : it->second;
  }
  void add(std::string token, int32_t id);
};

// A segment after normalization: its text and, for every byte of that text, the byte range
// of the input character it came from (so offsets always cover whole input characters).
struct Normalized {
  std::string text;
  std::vector<Offsets> offsets;

  void clear() { text.clear(), offsets.clear(); }
  void push(char32_t c, Offsets from);
};

struct Span {
  size_t begin, end;  // bytes of Normalized::text
};
struct TokenSpan {
  int32_t id;
  uint32_t begin, end;  // bytes of the word
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  // Normalizes and pre-tokenizes `segment`, which starts at byte `base` of the input.
  virtual void split_words(std::string_view segment, size_t base, Normalized& out,
                           std::vector<Span>& words) const = 0;
  virtual void tokenize_word(std::string_view word, std::vector<TokenSpan>& out) const = 0;
  virtual std::string decode(const std::vector<std::string_view>& tokens) const = 0;
  virtual WordBoundary word_boundary() const = 0;
  virtual bool has_normalizer() const = 0;
  virtual int32_t unk_id() const = 0;  // -1 when the model has none
};

// Build from the parsed tokenizer.json; they fill `vocab` with the model's vocabulary and
// throw masklm::Error naming any setting they do not support.
std::unique_ptr<Pipeline> make_wordpiece_pipeline(const nlohmann::json& config, Vocab& vocab);
std::unique_ptr<Pipeline> make_byte_level_bpe_pipeline(const nlohmann::json& config, Vocab& vocab);

// GPT-2's byte-level alphabet: the printable character that spells each byte.
const std::array<std::string, 256>& byte_alphabet();

// JSON access whose errors name the key and the section.
const nlohmann::json& json_at(const nlohmann::json& object, std::string_view key,
                              std::string_view where);
// Throws unless object[key] is absent, null or equal to `expected`.
void json_expect(const nlohmann::json& object, std::string_view key, const nlohmann::json& expected,
                 std::string_view where);
std::string json_type(const nlohmann::json& component);  // "null" for a missing component

}  // namespace masklm::tokenizer_detail
