// The token shard file format (version 1), little-endian:
//
//   ShardHeader                      64 bytes
//   token ids                        num_tokens × token_bytes (u16 when the vocabulary has
//                                    at most 65536 ids, else u32)
//   zero padding                     to an 8-byte boundary
//   document offsets                 (num_documents + 1) × u64: document d is tokens
//                                    [offsets[d], offsets[d+1]); offsets[0] = 0 and
//                                    offsets[num_documents] = num_tokens
//
// The file size follows from the header exactly, so truncation is always detected. The
// vocabulary hash (Tokenizer::vocab_hash) ties a shard to the tokenizer that made it.
// Any change to this layout bumps kShardFormatVersion.
#pragma once

#include <cstddef>
#include <cstdint>

namespace masklm {

inline constexpr char kShardMagic[8] = {'M', 'L', 'M', 'S', 'H', 'A', 'R', 'D'};
inline constexpr uint32_t kShardFormatVersion = 1;

struct ShardHeader {
  char magic[8];
  uint32_t version;
  uint32_t token_bytes;  // 2 or 4
  uint64_t vocab_hash;
  uint64_t vocab_size;
  uint64_t num_documents;
  uint64_t num_tokens;
  uint64_t reserved[2];  // zero
};
static_assert(sizeof(ShardHeader) == 64);

// Bytes per token id for a vocabulary of `vocab_size` ids.
inline uint32_t shard_token_bytes(uint64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

// Where each section starts, from the header's counts.
struct ShardLayout {
  uint64_t tokens_begin;   // byte offset of the token ids
  uint64_t offsets_begin;  // byte offset of the document offsets
  uint64_t file_size;
};

inline ShardLayout shard_layout(const ShardHeader& h) {
  const uint64_t tokens_end = sizeof(ShardHeader) + h.num_tokens * h.token_bytes;
  const uint64_t offsets_begin = (tokens_end + 7) / 8 * 8;
  return {sizeof(ShardHeader), offsets_begin, offsets_begin + (h.num_documents + 1) * sizeof(uint64_t)};
}

}  // namespace masklm
