// Hand-made vocabularies for the masking tests, independent of the tokenizers: the
// word-start rule of each tokenizer family is written out here from the spelling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "masking/vocab_info.h"
#include "runtime/error.h"

namespace masklm::testing {

// Ids 0..3 of every toy vocabulary: padding, sequence start, separator, [MASK].
constexpr int32_t kPad = 0, kCls = 1, kSep = 2, kMask = 3, kFirstWord = 4;

// `size` ids, 0..3 special, every other id a whole word.
inline VocabInfo plain_vocab(int32_t size) {
  VocabInfo v;
  v.size = size;
  v.mask_id = kMask;
  v.is_special.assign(static_cast<size_t>(size), 0);
  v.starts_word.assign(static_cast<size_t>(size), 1);
  for (int32_t id = 0; id < kFirstWord; ++id) v.is_special[static_cast<size_t>(id)] = 1;
  return v;
}

enum class Family { WORDPIECE, BYTE_LEVEL_BPE, METASPACE };

// Specials first, then `pieces` in order; word starts from each family's convention.
struct ToyVocab {
  VocabInfo info;
  std::vector<std::string> tokens;

  int32_t id(const std::string& token) const {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == token) return static_cast<int32_t>(i);
    MASKLM_FAIL("toy vocabulary has no '{}'", token);
  }
  std::vector<int32_t> ids(const std::vector<std::string>& text) const {
    std::vector<int32_t> out;
    for (const auto& t : text) out.push_back(id(t));
    return out;
  }
};

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

inline ToyVocab toy_vocab(Family family, const std::vector<std::string>& pieces) {
  ToyVocab v;
  v.tokens = {"[PAD]", "[CLS]", "[SEP]", "[MASK]"};
  v.tokens.insert(v.tokens.end(), pieces.begin(), pieces.end());
  v.info = plain_vocab(static_cast<int32_t>(v.tokens.size()));
  for (size_t i = kFirstWord; i < v.tokens.size(); ++i) {
    const std::string& t = v.tokens[i];
    switch (family) {
      case Family::WORDPIECE: v.info.starts_word[i] = !starts_with(t, "##"); break;
      case Family::BYTE_LEVEL_BPE: v.info.starts_word[i] = starts_with(t, "\xC4\xA0"); break;  // Ġ
      case Family::METASPACE: v.info.starts_word[i] = starts_with(t, "\xE2\x96\x81"); break;  // ▁
    }
  }
  return v;
}

}  // namespace masklm::testing
