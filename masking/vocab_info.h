// What masking needs to know about a vocabulary, as per-id tables: which ids are special
// (never selected, never drawn as replacements), which ids begin a word (whole-word, span
// and PMI units) and, optionally, corpus frequencies for frequency-weighted replacement.
#pragma once

#include <cstdint>
#include <vector>

namespace masklm {

class Tokenizer;

struct VocabInfo {
  int32_t size = 0;
  int32_t mask_id = -1;
  std::vector<uint8_t> is_special;   // (V) specials and padding: never masked or drawn
  std::vector<uint8_t> starts_word;  // (V) by spelling; a token after a special also starts one
  std::vector<double> frequency;     // (V) or empty; counts or probabilities, any scale

  // Throws masklm::Error unless the tables have `size` entries and mask_id is a special id.
  void validate() const;
};

// From a tokenizer: its specials (plus pad, unk, mask, cls, sep), Tokenizer::starts_word
// for the three boundary conventions, no frequencies.
VocabInfo vocab_info_from_tokenizer(const Tokenizer& tokenizer);

}  // namespace masklm
