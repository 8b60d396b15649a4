#include "data/shard_reader.h"

#include <bit>
#include <cstring>

#include "runtime/error.h"

namespace masklm {

static_assert(std::endian::native == std::endian::little, "shards are little-endian, as is the host");

namespace {

template <typename... Args>
[[noreturn]] void fail_shard(const std::filesystem::path& path, fmt::format_string<Args...> f, Args&&... args) {
  MASKLM_FAIL("shard '{}': {}", path.string(), fmt::format(f, std::forward<Args>(args)...));
}

template <typename T> uint64_t largest_id(const char* bytes, uint64_t n) {
  T largest = 0;
  const T* ids = reinterpret_cast<const T*>(bytes);  // 64-byte aligned in a page-aligned map
  for (uint64_t i = 0; i < n; ++i) largest = ids[i] > largest ? ids[i] : largest;
  return largest;
}

}  // namespace

ShardReader::ShardReader(const std::filesystem::path& path) : file_(path) {
  const size_t size = file_.size();
  if (size < sizeof(ShardHeader))
    fail_shard(path, "truncated: {} bytes, shorter than the {}-byte header", size, sizeof(ShardHeader));
  std::memcpy(&header_, file_.data(), sizeof(header_));
  if (std::memcmp(header_.magic, kShardMagic, sizeof(kShardMagic)) != 0)
    fail_shard(path, "not a masklm token shard (wrong magic bytes)");
  if (header_.version != kShardFormatVersion)
    fail_shard(path, "format version {}, but this build reads version {}; run `masklm prepare` again",
               header_.version, kShardFormatVersion);
  if (header_.vocab_size == 0 || header_.vocab_size > uint64_t{INT32_MAX})
    fail_shard(path, "vocabulary size {} out of range", header_.vocab_size);
  if (header_.token_bytes != shard_token_bytes(header_.vocab_size))
    fail_shard(path, "{}-byte token ids for a vocabulary of {} (expected {})", header_.token_bytes,
               header_.vocab_size, shard_token_bytes(header_.vocab_size));
  // Bound the counts by the file size before computing the layout, so it cannot overflow.
  if (header_.num_tokens > size / header_.token_bytes || header_.num_documents > size / sizeof(uint64_t))
    fail_shard(path, "truncated: {} bytes cannot hold the {} tokens and {} documents of the header", size,
               header_.num_tokens, header_.num_documents);
  const ShardLayout layout = shard_layout(header_);
  if (size != layout.file_size)
    fail_shard(path, "{}: {} bytes, but the header's {} tokens and {} documents need {}",
               size < layout.file_size ? "truncated" : "trailing bytes", size, header_.num_tokens,
               header_.num_documents, layout.file_size);

  tokens_ = file_.data() + layout.tokens_begin;
  offsets_ = {reinterpret_cast<const uint64_t*>(file_.data() + layout.offsets_begin), header_.num_documents + 1};
  if (offsets_.front() != 0 || offsets_.back() != header_.num_tokens)
    fail_shard(path, "document offsets run from {} to {}, expected 0 to {}", offsets_.front(), offsets_.back(),
               header_.num_tokens);
  for (size_t d = 0; d + 1 < offsets_.size(); ++d)
    if (offsets_[d] > offsets_[d + 1])
      fail_shard(path, "document offsets decrease at document {} ({} > {})", d, offsets_[d], offsets_[d + 1]);
  const uint64_t largest = header_.token_bytes == 2 ? largest_id<uint16_t>(tokens_, header_.num_tokens)
                                                    : largest_id<uint32_t>(tokens_, header_.num_tokens);
  if (header_.num_tokens > 0 && largest >= header_.vocab_size)
    fail_shard(path, "token id {} outside the vocabulary of {}", largest, header_.vocab_size);
}

void ShardReader::require_vocab(uint64_t vocab_hash, std::string_view tokenizer) const {
  if (vocab_hash != header_.vocab_hash)
    fail_shard(path(),
               "made with a different vocabulary (hash {:016x}) than the tokenizer {} (hash {:016x}); run "
               "`masklm prepare` again with this tokenizer",
               header_.vocab_hash, tokenizer, vocab_hash);
}

void ShardReader::copy_tokens(int64_t begin, int64_t end, int32_t* out) const {
  MASKLM_CHECK(0 <= begin && begin <= end && end <= num_tokens(), "shard '{}': tokens [{}, {}) out of range [0, {})",
               path().string(), begin, end, num_tokens());
  if (header_.token_bytes == 4) {
    std::memcpy(out, tokens_ + 4 * begin, static_cast<size_t>(end - begin) * 4);
    return;
  }
  const auto* ids = reinterpret_cast<const uint16_t*>(tokens_);
  for (int64_t i = begin; i < end; ++i) *out++ = ids[i];
}

std::vector<int32_t> ShardReader::document(int64_t d) const {
  MASKLM_CHECK(0 <= d && d < num_documents(), "shard '{}': document {} out of range [0, {})", path().string(), d,
               num_documents());
  const auto begin = static_cast<int64_t>(offsets_[static_cast<size_t>(d)]);
  const auto end = static_cast<int64_t>(offsets_[static_cast<size_t>(d) + 1]);
  std::vector<int32_t> ids(static_cast<size_t>(end - begin));
  copy_tokens(begin, end, ids.data());
  return ids;
}

}  // namespace masklm
