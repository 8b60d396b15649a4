// Writes one token shard (data/shard_format.h) document by document, streaming the ids to
// disk; only the document offsets stay in memory. The file appears atomically at finish().
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "runtime/file_io.h"

namespace masklm {

class ShardWriter {
 public:
  ShardWriter(const std::filesystem::path& path, uint64_t vocab_hash, int64_t vocab_size);

  // Appends one document; every id must be in [0, vocab_size).
  void add_document(std::span<const int32_t> ids);
  // Writes the offsets and header, flushes to disk and renames into place. Without it, the
  // destructor leaves no file behind.
  void finish();

  int64_t num_documents() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t num_tokens() const { return static_cast<int64_t>(offsets_.back()); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  uint64_t vocab_hash_;
  int64_t vocab_size_;
  uint32_t token_bytes_;
  AtomicFileWriter file_;
  std::vector<uint64_t> offsets_{0};
  std::vector<char> encoded_;  // one document's ids at token_bytes_ each
  bool finished_ = false;
};

}  // namespace masklm
