// Fixed-length training sequences packed across documents (RoBERTa's "full sentences").
// The documents of all shards, in order, form one token stream with a separator between
// consecutive documents; sequence j is
//
//   begin, stream[j·C, (j+1)·C), end          with C = seq_len - 2 content tokens
//
// where begin/end are the tokenizer's [CLS]/[SEP] (BERT) or <s>/</s> (RoBERTa) and the
// separator is [SEP] or </s>. Any sequence is computed directly (two binary searches),
// so a shuffled order (data/sequence_order.h) can read them at random. The stream's last
// partial sequence is left out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "data/shard_reader.h"
#include "data/tokenizer.h"

namespace masklm {

struct PackingTokens {
  int32_t begin = -1, end = -1, separator = -1;

  // [CLS]/<s> to begin, [SEP]/</s> to end and to separate; throws if the tokenizer lacks them.
  static PackingTokens from(const SpecialTokens& special);
};

class PackedDataset {
 public:
  PackedDataset(std::vector<ShardReader> shards, int64_t seq_len, PackingTokens tokens);

  // Split "train" or "val" of a directory written by `masklm prepare`; every shard must
  // have been made with `tokenizer`'s vocabulary.
  static PackedDataset open(const std::filesystem::path& dir, std::string_view split, const Tokenizer& tokenizer,
                            int64_t seq_len);

  int64_t seq_len() const { return seq_len_; }
  int64_t num_sequences() const { return num_sequences_; }
  const PackingTokens& tokens() const { return tokens_; }

  // Sequence `index` (seq_len ids) into `out`.
  void sequence(int64_t index, std::vector<int32_t>& out) const;

 private:
  std::vector<ShardReader> shards_;  // only shards with documents
  std::vector<int64_t> shard_stream_begin_;  // where each shard's first document starts in the stream
  int64_t seq_len_;
  PackingTokens tokens_;
  int64_t num_sequences_ = 0;
};

}  // namespace masklm
