#include "data/shard_writer.h"

#include <bit>
#include <cstring>

#include "data/shard_format.h"
#include "runtime/error.h"

namespace masklm {

static_assert(std::endian::native == std::endian::little, "shards are little-endian, as is the host");

ShardWriter::ShardWriter(const std::filesystem::path& path, uint64_t vocab_hash, int64_t vocab_size)
    : path_(path),
      vocab_hash_(vocab_hash),
      vocab_size_(vocab_size),
      token_bytes_(shard_token_bytes(static_cast<uint64_t>(vocab_size))),
      file_(path) {
  MASKLM_CHECK(vocab_size > 0 && vocab_size <= int64_t{INT32_MAX}, "shard '{}': vocabulary size {} out of range",
               path.string(), vocab_size);
  const ShardHeader placeholder{};  // rewritten with the counts by finish()
  file_.write(&placeholder, sizeof(placeholder));
}

void ShardWriter::add_document(std::span<const int32_t> ids) {
  MASKLM_CHECK(!finished_, "shard '{}': add_document after finish", path_.string());
  encoded_.resize(ids.size() * token_bytes_);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    MASKLM_CHECK(id >= 0 && id < vocab_size_, "shard '{}': token id {} outside the vocabulary of {}",
                 path_.string(), id, vocab_size_);
    if (token_bytes_ == 2) {
      const auto narrow = static_cast<uint16_t>(id);
      std::memcpy(encoded_.data() + 2 * i, &narrow, 2);
    } else {
      std::memcpy(encoded_.data() + 4 * i, &id, 4);
    }
  }
  file_.write(encoded_.data(), encoded_.size());
  offsets_.push_back(offsets_.back() + ids.size());
}

void ShardWriter::finish() {
  MASKLM_CHECK(!finished_, "shard '{}': finished twice", path_.string());
  ShardHeader header{};
  std::memcpy(header.magic, kShardMagic, sizeof(kShardMagic));
  header.version = kShardFormatVersion;
  header.token_bytes = token_bytes_;
  header.vocab_hash = vocab_hash_;
  header.vocab_size = static_cast<uint64_t>(vocab_size_);
  header.num_documents = offsets_.size() - 1;
  header.num_tokens = offsets_.back();
  const ShardLayout layout = shard_layout(header);
  const char zeros[8] = {};
  file_.write(zeros, layout.offsets_begin - file_.bytes_written());
  file_.write(offsets_.data(), offsets_.size() * sizeof(uint64_t));
  MASKLM_CHECK(file_.bytes_written() == layout.file_size, "shard '{}': wrote {} bytes, the layout says {}",
               path_.string(), file_.bytes_written(), layout.file_size);
  file_.overwrite(0, &header, sizeof(header));
  file_.commit();
  finished_ = true;
}

}  // namespace masklm
