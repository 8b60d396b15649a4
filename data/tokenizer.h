// Tokenizers: Hugging Face tokenizer.json (byte-level BPE as in RoBERTa/GPT-2, WordPiece
// as in BERT) with output identical to the `tokenizers` package. One interface; the
// concrete models live in data/tokenizer_*.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace masklm {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;  // byte range [begin, end) in the input
  std::vector<int32_t> word_ids;                   // word index per token, -1 for special tokens
};

// Ids of the special tokens an MLM needs; -1 where the tokenizer has none.
struct SpecialTokens {
  int32_t pad = -1, unk = -1, mask = -1;
  int32_t cls = -1, sep = -1;  // BERT's [CLS]/[SEP], RoBERTa's <s>/</s>
};

// How a tokenizer marks word boundaries, for whole-word, span and PMI masking.
enum class WordBoundary {
  CONTINUATION_PREFIX,  // WordPiece: pieces that continue a word start with "##"
  SPACE_PREFIX_G,       // byte-level BPE: pieces that start a word begin with "Ġ" (U+0120)
  SPACE_PREFIX_META,    // SentencePiece/metaspace: pieces that start a word begin with "▁"
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads a Hugging Face tokenizer.json; throws masklm::Error naming what is unsupported.
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& tokenizer_json);

  // Encodes one text; with add_special_tokens, wraps it as the post-processor says
  // ([CLS] ... [SEP] or <s> ... </s>).
  // Texts must be valid UTF-8 (masklm::Error names the byte offset otherwise).
  virtual Encoding encode(std::string_view text, bool add_special_tokens) const = 0;
  // Encodes many texts on num_threads() OpenMP threads; result i is encode(texts[i]).
  std::vector<Encoding> encode_batch(std::span<const std::string> texts,
                                     bool add_special_tokens) const;
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;          // throws when out of range
  virtual int32_t token_to_id(std::string_view token) const = 0;  // -1 when absent
  virtual const SpecialTokens& special_tokens() const = 0;
  virtual bool is_special(int32_t id) const = 0;
  virtual WordBoundary word_boundary() const = 0;

  // Whether a token can begin a word, from its spelling alone (the first token of a text
  // and the token after a special token always begin a word as well). Special tokens are
  // words of their own: true.
  bool starts_word(int32_t id) const;
  // A hash of the vocabulary (tokens and ids), stored in shards to catch mismatches:
  // 64-bit FNV-1a over (id as 4 little-endian bytes, token bytes, 0xFF) for every id.
  uint64_t vocab_hash() const;
};

}  // namespace masklm
