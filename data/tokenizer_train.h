// Training tokenizer vocabularies from a corpus: byte-level BPE (RoBERTa's setup) and
// WordPiece (BERT's setup, learned with BPE-style merges of "##" continuation pieces, as
// Hugging Face's WordPieceTrainer does). The result is a tokenizer.json that both
// masklm::Tokenizer and the `tokenizers` package load and encode identically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace masklm {

enum class TokenizerKind { BPE, WORDPIECE };

TokenizerKind parse_tokenizer_kind(std::string_view name);  // "bpe" or "wordpiece"

// <s> <pad> </s> <unk> <mask> for BPE; [PAD] [UNK] [CLS] [SEP] [MASK] for WordPiece.
std::vector<std::string> default_special_tokens(TokenizerKind kind);

// Learns a vocabulary of at most `vocab_size` tokens (special tokens first, with ids 0..,
// then the alphabet, then merges in order, while a pair occurs at least twice) from `lines`
// (one text each, valid UTF-8) and writes it as tokenizer.json to `out`. `special_tokens`
// must contain the kind's defaults' [CLS]/[SEP]/[UNK] or <s>/</s>. Deterministic: the same
// input gives the same file byte for byte.
void train_tokenizer(TokenizerKind kind, int64_t vocab_size, std::span<const std::string> lines,
                     std::span<const std::string> special_tokens, const std::filesystem::path& out);

}  // namespace masklm
