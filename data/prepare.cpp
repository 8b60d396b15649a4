#include "data/prepare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "data/shard_format.h"
#include "data/shard_writer.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/threads.h"

namespace masklm {

namespace {

// Documents are encoded in batches of about this much text: large enough to keep all
// threads busy, small enough for steady progress and bounded memory.
constexpr size_t kBatchTextBytes = size_t{8} << 20;
constexpr size_t kBatchMaxDocuments = 16384;

// The shards of one split, opened as needed and closed at shard_tokens.
class SplitWriter {
 public:
  SplitWriter(std::string name, const PrepareOptions& options, uint64_t vocab_hash, int64_t vocab_size)
      : name_(std::move(name)), options_(options), vocab_hash_(vocab_hash), vocab_size_(vocab_size) {}

  void add(const std::vector<int32_t>& ids) {
    if (!writer_) {
      const std::string file = fmt::format("{}-{:05}.shard", name_, manifest_.shards.size());
      writer_ = std::make_unique<ShardWriter>(options_.out_dir / file, vocab_hash_, vocab_size_);
    }
    writer_->add_document(ids);
    if (writer_->num_tokens() >= options_.shard_tokens) close();
  }

  SplitManifest finish() {
    close();
    return std::move(manifest_);
  }

 private:
  void close() {
    if (!writer_) return;
    writer_->finish();
    manifest_.add({writer_->path().filename().string(), writer_->num_documents(), writer_->num_tokens()});
    writer_.reset();
  }

  std::string name_;
  const PrepareOptions& options_;
  uint64_t vocab_hash_;
  int64_t vocab_size_;
  std::unique_ptr<ShardWriter> writer_;
  SplitManifest manifest_;
};

bool goes_to_validation(int64_t index, double fraction) {
  return std::floor(static_cast<double>(index + 1) * fraction) > std::floor(static_cast<double>(index) * fraction);
}

// Deletes shards of an earlier run that the new manifest does not list, so the directory
// holds exactly one dataset.
void remove_stale_shards(const std::filesystem::path& dir, const DatasetManifest& m) {
  std::vector<std::string> keep;
  for (const SplitManifest* s : {&m.train, &m.val})
    for (const ShardEntry& e : s->shards) keep.push_back(e.file);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool ours = entry.path().extension() == ".shard" && (name.starts_with("train-") || name.starts_with("val-"));
    if (ours && std::find(keep.begin(), keep.end(), name) == keep.end()) {
      log_info("prepare: removing '{}' from an earlier run", entry.path().string());
      std::filesystem::remove(entry.path());
    }
  }
}

}  // namespace

DatasetManifest prepare_dataset(const PrepareOptions& options, const Tokenizer& tokenizer,
                                const PrepareProgressFn& on_progress) {
  MASKLM_CHECK(!options.inputs.empty(), "no input files given");
  MASKLM_CHECK(options.val_fraction >= 0 && options.val_fraction < 1, "the validation fraction must be in [0, 1), got {}",
               options.val_fraction);
  MASKLM_CHECK(options.shard_tokens > 0, "shard_tokens must be positive, got {}", options.shard_tokens);
  const auto start = std::chrono::steady_clock::now();
  const int threads = options.threads > 0 ? options.threads : num_threads();

  // Open every input first, so a missing file fails before hours of work on the others.
  std::vector<std::unique_ptr<TextReader>> readers;
  PrepareProgress progress;
  for (const auto& path : options.inputs) {
    readers.push_back(std::make_unique<TextReader>(path, options.text));
    progress.file_bytes_total += readers.back()->file_size();
  }
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) MASKLM_FAIL("cannot create the output directory '{}': {}", options.out_dir.string(), ec.message());

  DatasetManifest manifest;
  manifest.shard_format_version = kShardFormatVersion;
  manifest.tokenizer = std::filesystem::absolute(options.tokenizer_path).string();
  manifest.vocab_hash = tokenizer.vocab_hash();
  manifest.vocab_size = tokenizer.vocab_size();
  for (const auto& path : options.inputs) manifest.inputs.push_back(path.string());
  manifest.text_format = std::string(text_format_name(options.text.format));
  manifest.val_fraction = options.val_fraction;
  SplitWriter train("train", options, manifest.vocab_hash, manifest.vocab_size);
  SplitWriter val("val", options, manifest.vocab_hash, manifest.vocab_size);

  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  int64_t document_index = 0, bytes_done_before = 0;
  for (auto& reader : readers) {
    for (bool more = true; more;) {
      texts.clear();
      size_t batch_bytes = 0;
      std::string text;
      while (batch_bytes < kBatchTextBytes && texts.size() < kBatchMaxDocuments && (more = reader->next(text))) {
        batch_bytes += text.size();
        texts.push_back(std::move(text));
      }
      ids.resize(texts.size());
      // Exceptions must not leave an OpenMP region: the first one is kept and rethrown.
      std::optional<Error> failure;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (size_t i = 0; i < texts.size(); ++i) {
        try {
          ids[i] = tokenizer.encode(texts[i], /*add_special_tokens=*/false).ids;
        } catch (const Error& e) {
#pragma omp critical(prepare_failure)
          if (!failure) failure = e;
        }
      }
      if (failure) throw *failure;
      for (size_t i = 0; i < texts.size(); ++i) {
        if (ids[i].empty()) {
          ++manifest.untokenized_documents;
          continue;
        }
        (goes_to_validation(document_index++, options.val_fraction) ? val : train).add(ids[i]);
      }
      progress.documents += static_cast<int64_t>(texts.size());
      progress.file_bytes_read = bytes_done_before + reader->file_bytes_read();
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (on_progress) on_progress(progress);
    }
    bytes_done_before += reader->file_size();
    manifest.input += reader->stats();
  }
  manifest.train = train.finish();
  manifest.val = val.finish();
  MASKLM_CHECK(manifest.train.documents > 0, "no documents with tokens in {} input file(s): nothing to train on",
               options.inputs.size());
  manifest.write(options.out_dir);
  remove_stale_shards(options.out_dir, manifest);
  return manifest;
}

}  // namespace masklm
