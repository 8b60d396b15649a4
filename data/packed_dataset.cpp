#include "data/packed_dataset.h"

#include <algorithm>

#include "data/dataset_manifest.h"
#include "runtime/error.h"

namespace masklm {

PackingTokens PackingTokens::from(const SpecialTokens& special) {
  MASKLM_CHECK(special.cls >= 0 && special.sep >= 0,
               "packing needs the tokenizer's [CLS]/<s> and [SEP]/</s> tokens (cls id {}, sep id {})", special.cls,
               special.sep);
  return {special.cls, special.sep, special.sep};
}

PackedDataset::PackedDataset(std::vector<ShardReader> shards, int64_t seq_len, PackingTokens tokens)
    : seq_len_(seq_len), tokens_(tokens) {
  MASKLM_CHECK(seq_len >= 3, "packed sequences need at least 3 tokens (begin, content, end), got {}", seq_len);
  int64_t stream_length = 0;
  for (ShardReader& shard : shards) {
    if (shard.num_documents() == 0) continue;
    // Each document contributes its tokens and the separator after it.
    shard_stream_begin_.push_back(stream_length);
    stream_length += shard.num_tokens() + shard.num_documents();
    shards_.push_back(std::move(shard));
  }
  const int64_t content = seq_len - 2;
  if (stream_length > 0) --stream_length;  // no separator after the last document
  num_sequences_ = stream_length / content;
}

PackedDataset PackedDataset::open(const std::filesystem::path& dir, std::string_view split,
                                  const Tokenizer& tokenizer, int64_t seq_len) {
  const DatasetManifest manifest = DatasetManifest::read(dir);
  std::vector<ShardReader> shards;
  for (const ShardEntry& entry : manifest.split(split).shards) {
    shards.emplace_back(dir / entry.file);
    shards.back().require_vocab(tokenizer.vocab_hash(), "in use");
    MASKLM_CHECK(shards.back().num_documents() == entry.documents && shards.back().num_tokens() == entry.tokens,
                 "shard '{}' holds {} documents and {} tokens, but the manifest says {} and {}",
                 shards.back().path().string(), shards.back().num_documents(), shards.back().num_tokens(),
                 entry.documents, entry.tokens);
  }
  PackedDataset dataset(std::move(shards), seq_len, PackingTokens::from(tokenizer.special_tokens()));
  MASKLM_CHECK(dataset.num_sequences() > 0, "the {} split of '{}' has too few tokens for one sequence of {}", split,
               dir.string(), seq_len);
  return dataset;
}

void PackedDataset::sequence(int64_t index, std::vector<int32_t>& out) const {
  MASKLM_CHECK(0 <= index && index < num_sequences_, "packed sequence {} out of range [0, {})", index,
               num_sequences_);
  const int64_t content = seq_len_ - 2;
  out.resize(static_cast<size_t>(seq_len_));
  out.front() = tokens_.begin;
  out.back() = tokens_.end;

  int64_t position = index * content;  // in the stream
  // The shard holding `position`, then the document: document d of a shard starts at
  // stream offset offsets[d] + d (its tokens plus one separator per earlier document).
  size_t s = static_cast<size_t>(
      std::upper_bound(shard_stream_begin_.begin(), shard_stream_begin_.end(), position) -
      shard_stream_begin_.begin() - 1);
  auto offsets = shards_[s].document_offsets();
  int64_t lo = 0, hi = shards_[s].num_documents();  // the last d with start(d) <= position
  const int64_t local = position - shard_stream_begin_[s];
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    (static_cast<int64_t>(offsets[static_cast<size_t>(mid)]) + mid <= local ? lo : hi) = mid;
  }
  int64_t d = lo;

  for (int64_t filled = 0; filled < content;) {
    const int64_t doc_start = shard_stream_begin_[s] + static_cast<int64_t>(offsets[static_cast<size_t>(d)]) + d;
    const auto doc_begin = static_cast<int64_t>(offsets[static_cast<size_t>(d)]);
    const int64_t doc_length = static_cast<int64_t>(offsets[static_cast<size_t>(d) + 1]) - doc_begin;
    const int64_t within = position - doc_start;
    if (within < doc_length) {
      const int64_t n = std::min(doc_length - within, content - filled);
      shards_[s].copy_tokens(doc_begin + within, doc_begin + within + n, out.data() + 1 + filled);
      filled += n;
      position += n;
      continue;
    }
    out[static_cast<size_t>(1 + filled++)] = tokens_.separator;
    ++position;
    if (++d == shards_[s].num_documents()) {
      d = 0;
      if (++s == shards_.size()) break;  // only the unused final separator can end here
      offsets = shards_[s].document_offsets();
    }
  }
}

}  // namespace masklm
