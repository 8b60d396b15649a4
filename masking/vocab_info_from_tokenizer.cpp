// Kept apart from vocab_info.cpp so code that builds VocabInfo tables by hand does not
// link the tokenizers.
#include "data/tokenizer.h"
#include "masking/vocab_info.h"

namespace masklm {

VocabInfo vocab_info_from_tokenizer(const Tokenizer& tokenizer) {
  VocabInfo info;
  info.size = static_cast<int32_t>(tokenizer.vocab_size());
  const SpecialTokens& sp = tokenizer.special_tokens();
  info.mask_id = sp.mask;
  info.is_special.resize(static_cast<size_t>(info.size));
  info.starts_word.resize(static_cast<size_t>(info.size));
  for (int32_t id = 0; id < info.size; ++id) {
    info.is_special[static_cast<size_t>(id)] = tokenizer.is_special(id);
    info.starts_word[static_cast<size_t>(id)] = tokenizer.starts_word(id);
  }
  // Padding and [UNK] are never masked or drawn as replacements, whether or not the
  // tokenizer file flags them special.
  for (int32_t id : {sp.pad, sp.unk, sp.mask, sp.cls, sp.sep})
    if (id >= 0 && id < info.size) info.is_special[static_cast<size_t>(id)] = 1;
  info.validate();
  return info;
}

}  // namespace masklm
