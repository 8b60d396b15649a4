// DIR/manifest.json of a prepared dataset: which shards make each split, their counts,
// the tokenizer and vocabulary hash they were made with, and what reading the input
// repaired. Training finds its shards through it, never by listing the directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/text_reader.h"

namespace masklm {

struct ShardEntry {
  std::string file;  // relative to the dataset directory
  int64_t documents = 0, tokens = 0;
};

struct SplitManifest {
  std::vector<ShardEntry> shards;
  int64_t documents = 0, tokens = 0;

  void add(const ShardEntry& shard);
};

struct DatasetManifest {
  static constexpr std::string_view kFileName = "manifest.json";

  uint32_t shard_format_version = 0;
  std::string tokenizer;  // path of the tokenizer.json used
  uint64_t vocab_hash = 0;
  int64_t vocab_size = 0;
  std::vector<std::string> inputs;
  std::string text_format;
  double val_fraction = 0;
  TextReadStats input;           // documents read and repairs made
  int64_t untokenized_documents = 0;  // read, but encoded to no tokens (skipped)
  SplitManifest train, val;

  const SplitManifest& split(std::string_view name) const;  // "train" or "val"

  // Atomic write to dir/manifest.json.
  void write(const std::filesystem::path& dir) const;
  // Reads dir/manifest.json; throws masklm::Error naming the file and the bad field.
  static DatasetManifest read(const std::filesystem::path& dir);
};

}  // namespace masklm
