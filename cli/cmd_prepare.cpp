// `masklm prepare`: text files → token shards and a manifest (data/prepare.h), with a
// progress bar on stderr and a summary on stdout. With --train-tokenizer it first learns a
// vocabulary from the same inputs (data/tokenizer_train.h) into DIR/tokenizer.json.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/prepare.h"
#include "data/text_reader.h"
#include "data/tokenizer.h"
#include "data/tokenizer_train.h"
#include "runtime/error.h"
#include "runtime/threads.h"

namespace masklm::cli {

namespace {

struct PrepareCliOptions {
  std::vector<std::string> inputs;
  std::string tokenizer;
  std::string train_tokenizer;  // bpe or wordpiece; empty: use --tokenizer
  int64_t vocab_size = 8000;
  std::string out;
  std::string format = "text";
  std::string jsonl_field = "text";
  double val_fraction = 0.01;
  int threads = 0;
  int64_t shard_tokens = int64_t{1} << 27;
};

std::filesystem::path tokenizer_path(const PrepareCliOptions& o) {
  return o.train_tokenizer.empty() ? std::filesystem::path(o.tokenizer)
                                   : std::filesystem::path(o.out) / "tokenizer.json";
}

// Learns the vocabulary from every document of the inputs, held in memory while it trains.
void train_tokenizer_on_inputs(const PrepareCliOptions& o, const std::filesystem::path& out) {
  const TokenizerKind kind = parse_tokenizer_kind(o.train_tokenizer);
  TextReaderOptions text;
  text.format = text_format_from_name(o.format);
  text.jsonl_field = o.jsonl_field;
  std::vector<std::string> documents;
  size_t bytes = 0;
  for (const std::string& input : o.inputs) {
    TextReader reader(input, text);
    std::string document;
    while (reader.next(document)) {
      bytes += document.size();
      documents.push_back(std::move(document));
    }
  }
  MASKLM_CHECK(!documents.empty(), "--train-tokenizer: the inputs hold no text");
  fmt::print(stderr, "masklm prepare: training a {} vocabulary of {} on {} documents ({:.1f} MB)\n",
             o.train_tokenizer, o.vocab_size, documents.size(), static_cast<double>(bytes) / 1e6);
  const auto start = std::chrono::steady_clock::now();
  std::filesystem::create_directories(o.out);
  train_tokenizer(kind, o.vocab_size, documents, default_special_tokens(kind), out);
  fmt::print(stderr, "masklm prepare: wrote {} in {:.1f} s\n", out.string(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// The tokenizer to encode with: --tokenizer, or one trained on the inputs.
std::unique_ptr<Tokenizer> tokenizer_for(const PrepareCliOptions& o) {
  MASKLM_CHECK(o.train_tokenizer.empty() != o.tokenizer.empty(),
               "give either --tokenizer FILE or --train-tokenizer bpe|wordpiece");
  if (!o.train_tokenizer.empty()) train_tokenizer_on_inputs(o, tokenizer_path(o));
  return Tokenizer::load(tokenizer_path(o));
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

// Redraws one line in place on a terminal; elsewhere (logs) prints a line every 10 s.
class ProgressBar {
 public:
  ProgressBar() : terminal_(::isatty(STDERR_FILENO) != 0) {}

  void update(const PrepareProgress& p, bool final = false) {
    const double interval = terminal_ ? 0.2 : 10.0;
    if (!final && p.seconds - last_draw_ < interval) return;
    if (final && !terminal_ && p.documents == last_documents_) return;  // already printed
    last_draw_ = p.seconds;
    last_documents_ = p.documents;
    const double mb = static_cast<double>(p.file_bytes_read) / 1e6, total_mb = static_cast<double>(p.file_bytes_total) / 1e6;
    const double fraction = total_mb > 0 ? mb / total_mb : 1.0;
    const double rate = p.seconds > 0 ? mb / p.seconds : 0.0;
    const std::string eta = rate > 0 ? format_duration((total_mb - mb) / rate) : "?";
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    const std::string line =
        fmt::format("[{}{}] {:5.1f}%  {} docs  {:.1f}/{:.1f} MB  {:.2f} MB/s  ETA {}", std::string(filled, '='),
                    std::string(kWidth - filled, ' '), 100 * fraction, p.documents, mb, total_mb, rate, eta);
    std::fprintf(stderr, terminal_ ? "\r%s\033[K" : "%s\n", line.c_str());
    if (final && terminal_) std::fputc('\n', stderr);
  }

 private:
  bool terminal_;
  double last_draw_ = -1e9;
  int64_t last_documents_ = -1;
};

void run_prepare(const PrepareCliOptions& o) {
  PrepareOptions options;
  options.inputs.assign(o.inputs.begin(), o.inputs.end());
  options.out_dir = o.out;
  options.tokenizer_path = tokenizer_path(o);
  options.text.format = text_format_from_name(o.format);
  options.text.jsonl_field = o.jsonl_field;
  options.val_fraction = o.val_fraction;
  options.threads = o.threads;
  options.shard_tokens = o.shard_tokens;
  const std::unique_ptr<Tokenizer> tokenizer = tokenizer_for(o);
  set_num_threads(o.threads);
  fmt::print(stderr, "masklm prepare: {} input file(s), {} format, {} threads, vocabulary of {}\n", o.inputs.size(),
             o.format, num_threads(), tokenizer->vocab_size());

  ProgressBar bar;
  PrepareProgress last;
  const DatasetManifest m = prepare_dataset(options, *tokenizer, [&](const PrepareProgress& p) {
    last = p;
    bar.update(p);
  });
  bar.update(last, /*final=*/true);

  const auto& in = m.input;
  fmt::print("documents  {} read: {} train, {} validation\n", in.documents, m.train.documents, m.val.documents);
  fmt::print("tokens     {} train, {} validation ({:.1f} per document)\n", m.train.tokens, m.val.tokens,
             static_cast<double>(m.train.tokens + m.val.tokens) /
                 static_cast<double>(std::max<int64_t>(1, m.train.documents + m.val.documents)));
  fmt::print("repairs    {} invalid UTF-8 sequences replaced, {} empty documents skipped, {} without tokens "
             "skipped, {} long documents cut\n",
             in.invalid_utf8, in.empty_documents, m.untokenized_documents, in.split_documents);
  fmt::print("wrote      {} train and {} validation shard(s) and {} to {}\n", m.train.shards.size(),
             m.val.shards.size(), DatasetManifest::kFileName, o.out);
}

}  // namespace

void register_prepare(CLI::App& app) {
  auto opts = std::make_shared<PrepareCliOptions>();
  auto* cmd = app.add_subcommand("prepare", "Tokenize text files into training and validation shards");
  cmd->add_option("--input", opts->inputs, "Text files (.gz and .zst are decompressed)")->required()->check(CLI::ExistingFile);
  auto* tokenizer = cmd->add_option("--tokenizer", opts->tokenizer, "Hugging Face tokenizer.json");
  cmd->add_option("--train-tokenizer", opts->train_tokenizer,
                  "Train a vocabulary on the inputs instead, saved as OUT/tokenizer.json")
      ->check(CLI::IsMember({"bpe", "wordpiece"}))
      ->excludes(tokenizer);
  cmd->add_option("--vocab-size", opts->vocab_size, "Vocabulary size for --train-tokenizer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", opts->out, "Output directory for the shards and manifest.json")->required();
  cmd->add_option("--format", opts->format,
                  "text: documents separated by blank lines; lines: one per line; jsonl: one JSON object per line")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "lines", "jsonl"}));
  cmd->add_option("--jsonl-field", opts->jsonl_field, "The JSONL field holding the text")->capture_default_str();
  cmd->add_option("--val-fraction", opts->val_fraction, "Fraction of documents held out for validation")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--threads", opts->threads, "Tokenizer threads (0: OMP_NUM_THREADS or all cores)")->capture_default_str();
  cmd->add_option("--shard-tokens", opts->shard_tokens, "Tokens per shard before a new one starts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([opts] { run_prepare(*opts); });
}

}  // namespace masklm::cli
