// A token shard (data/shard_format.h), memory-mapped read-only and validated on open:
// magic, version, token width, exact file size, document offsets and every token id.
// Errors name the file and what is wrong with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "data/shard_format.h"
#include "runtime/file_io.h"

namespace masklm {

class ShardReader {
 public:
  explicit ShardReader(const std::filesystem::path& path);

  // Throws unless the shard was made with the vocabulary whose hash is `vocab_hash`
  // (`tokenizer` names that vocabulary in the message).
  void require_vocab(uint64_t vocab_hash, std::string_view tokenizer) const;

  const std::filesystem::path& path() const { return file_.path(); }
  const ShardHeader& header() const { return header_; }
  int64_t num_documents() const { return static_cast<int64_t>(header_.num_documents); }
  int64_t num_tokens() const { return static_cast<int64_t>(header_.num_tokens); }
  int64_t vocab_size() const { return static_cast<int64_t>(header_.vocab_size); }
  uint64_t vocab_hash() const { return header_.vocab_hash; }

  // (num_documents + 1) offsets into the token ids.
  std::span<const uint64_t> document_offsets() const { return offsets_; }
  // Copies tokens [begin, end) into `out` as int32.
  void copy_tokens(int64_t begin, int64_t end, int32_t* out) const;
  std::vector<int32_t> document(int64_t d) const;

 private:
  MappedFile file_;
  ShardHeader header_{};
  const char* tokens_ = nullptr;
  std::span<const uint64_t> offsets_;
};

}  // namespace masklm
