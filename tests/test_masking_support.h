// Shared by the masking tests: hand-made vocabularies, independent of the tokenizers (the
// word-start rule of each tokenizer family is written out here from the spelling), the
// masking RNG key and a chi-square statistic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "masking/vocab_info.h"
#include "runtime/error.h"
#include "runtime/philox.h"

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

// plain_vocab(size) with uneven word frequencies, for frequency-weighted replacement draws.
inline VocabInfo weighted_vocab(int32_t size) {
  VocabInfo v = plain_vocab(size);
  for (int32_t id = 0; id < size; ++id) v.frequency.push_back(1 + id % 7);
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

// A flat batch of sequences of the given lengths over plain_vocab(vocab): [CLS] words...
// [SEP], with a [SEP] inside the longer ones; cu_seqlens receives the offsets. For the
// GPU masking tests (tests/gpu and tests/emulation).
inline std::vector<int32_t> flat_batch(const std::vector<int32_t>& lengths, int32_t vocab,
                                       std::vector<int32_t>& cu_seqlens) {
  std::vector<int32_t> ids;
  cu_seqlens = {0};
  uint32_t x = 12345;
  for (int32_t len : lengths) {
    for (int32_t t = 0; t < len; ++t) {
      x = x * 1664525u + 1013904223u;
      const int32_t word = kFirstWord + static_cast<int32_t>((x >> 8) % (vocab - kFirstWord));
      ids.push_back(t == 0 ? kCls : t == len - 1 || t == len / 2 ? kSep : word);
    }
    cu_seqlens.push_back(static_cast<int32_t>(ids.size()));
  }
  return ids;
}

inline RngKey masking_key(uint32_t step = 0, uint32_t rank = 0, uint64_t seed = 1234) {
  return RngKey{seed, step, rank, RngStream::MASKING, 0};
}

// Pearson's chi-square of observed counts against bin probabilities (df = bins - 1).
inline double chi_square(const std::vector<int64_t>& observed,
                         const std::vector<double>& probability) {
  double total = 0, chi2 = 0;
  for (int64_t o : observed) total += static_cast<double>(o);
  for (size_t k = 0; k < observed.size(); ++k) {
    const double e = total * probability[k];
    chi2 += (static_cast<double>(observed[k]) - e) * (static_cast<double>(observed[k]) - e) / e;
  }
  return chi2;
}

}  // namespace masklm::testing
