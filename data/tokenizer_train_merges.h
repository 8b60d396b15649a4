// Inside the tokenizer trainers (not installed API): the BPE merge loop both trainers share.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace masklm::tokenizer_detail {

struct WordCount {
  std::vector<std::string> symbols;  // the word spelled in initial symbols
  int64_t count;
};

// `merged(left, right)` spells the token a merge makes ("##" pieces join without the
// prefix for WordPiece).
using MergedSpelling = std::string (*)(const std::string& left, const std::string& right);

// Adds tokens to `vocab` (which starts with the special tokens and the alphabet) by merging
// the most frequent adjacent pair (ties: the pair whose tokens came first) until it holds
// `vocab_size` tokens or no pair occurs twice. Returns the merges in order.
std::vector<std::pair<std::string, std::string>> learn_merges(std::vector<WordCount> words,
                                                              std::vector<std::string>& vocab,
                                                              size_t vocab_size,
                                                              MergedSpelling merged);

}  // namespace masklm::tokenizer_detail
