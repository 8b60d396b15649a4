// Text → token shards, the library side of `masklm prepare`: reads every input
// (data/text_reader.h), encodes documents on all threads, deals them to the train and
// validation splits, writes DIR/train-NNNNN.shard, DIR/val-NNNNN.shard and
// DIR/manifest.json. The output depends only on the inputs, the tokenizer and the options,
// never on the thread count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "data/dataset_manifest.h"
#include "data/text_reader.h"
#include "data/tokenizer.h"

namespace masklm {

struct PrepareOptions {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path out_dir;
  std::filesystem::path tokenizer_path;  // recorded in the manifest
  TextReaderOptions text;
  // Every document whose index i (counted over all inputs) has floor((i+1)f) > floor(if)
  // goes to validation: exactly floor(n·f) of n documents, spread evenly through the input.
  double val_fraction = 0.01;
  int threads = 0;  // 0: OMP_NUM_THREADS or all cores
  int64_t shard_tokens = int64_t{1} << 27;  // a shard is closed once it holds this many
};

struct PrepareProgress {
  int64_t documents = 0;
  int64_t file_bytes_read = 0;   // over all inputs, as stored (compressed)
  int64_t file_bytes_total = 0;
  double seconds = 0;
};

using PrepareProgressFn = std::function<void(const PrepareProgress&)>;

// Throws masklm::Error for unreadable inputs and bad JSONL lines (with file:line).
DatasetManifest prepare_dataset(const PrepareOptions& options, const Tokenizer& tokenizer,
                                const PrepareProgressFn& on_progress = {});

}  // namespace masklm
