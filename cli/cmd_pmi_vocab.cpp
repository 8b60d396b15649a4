// `masklm pmi-vocab`: builds the PMI-Masking n-gram vocabulary (masking/pmi_builder.h)
// that `masking.strategy: pmi` reads. This version reads a text file (one span per line,
// n-grams never cross lines); token shards feed the same builder through a TokenCorpus.
#include <fmt/format.h>

#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/text_reader.h"
#include "data/tokenizer.h"
#include "masking/pmi_builder.h"
#include "runtime/error.h"

namespace masklm::cli {

namespace {

struct PmiVocabOptions {
  std::string tokenizer;
  std::string input;
  std::string out;
  PmiVocabularyOptions build;
  int64_t show = 10;
};

// The encoded lines, flat, without special tokens: the builder reads them once per length.
struct EncodedLines {
  std::vector<int32_t> ids;
  std::vector<size_t> offsets{0};

  TokenCorpus corpus() const {
    return [this](const TokenSpanVisitor& visit) {
      for (size_t i = 0; i + 1 < offsets.size(); ++i)
        visit(std::span<const int32_t>(ids).subspan(offsets[i], offsets[i + 1] - offsets[i]));
    };
  }
};

EncodedLines encode_lines(const Tokenizer& tokenizer, const std::string& path) {
  // Bounded batches keep the text in memory small; the ids are needed for every pass.
  constexpr size_t kLinesPerBatch = 1 << 14;
  TextReader reader(path, TextReaderOptions{TextFormat::LINES});
  EncodedLines encoded;
  std::vector<std::string> lines;
  bool more = true;
  while (more) {
    lines.clear();
    std::string line;
    while (lines.size() < kLinesPerBatch && (more = reader.next(line)))
      lines.push_back(std::move(line));
    for (const Encoding& e : tokenizer.encode_batch(lines, false)) {
      encoded.ids.insert(encoded.ids.end(), e.ids.begin(), e.ids.end());
      encoded.offsets.push_back(encoded.ids.size());
    }
  }
  MASKLM_CHECK(!encoded.ids.empty(), "--input {} has no text", path);
  return encoded;
}

void run_pmi_vocab(const PmiVocabOptions& o) {
  const auto tokenizer = Tokenizer::load(o.tokenizer);
  const EncodedLines lines = encode_lines(*tokenizer, o.input);
  fmt::print("{} lines, {} tokens; counting n-grams up to {} tokens seen at least {} times\n",
             lines.offsets.size() - 1, lines.ids.size(), o.build.max_n, o.build.min_count);
  const PmiVocabulary vocab = build_pmi_vocabulary(lines.corpus(), o.build);
  vocab.save(o.out);
  fmt::print("wrote {} n-grams to {}\n", vocab.ngrams().size(), o.out);
  for (size_t i = 0; i < vocab.ngrams().size() && static_cast<int64_t>(i) < o.show; ++i) {
    const PmiNgram& g = vocab.ngrams()[i];
    fmt::print("  {:8.3f} {:>8}  {}\n", g.score, g.count, tokenizer->decode(g.ids, false));
  }
}

}  // namespace

void register_pmi_vocab(CLI::App& app) {
  auto opts = std::make_shared<PmiVocabOptions>();
  auto* cmd = app.add_subcommand("pmi-vocab", "Build the n-gram vocabulary for PMI masking");
  cmd->add_option("--tokenizer", opts->tokenizer, "Hugging Face tokenizer.json")->required();
  cmd->add_option("--input", opts->input, "Text file, one span per line")->required();
  cmd->add_option("--out", opts->out, "Vocabulary file to write")->required();
  cmd->add_option("--max-n", opts->build.max_n, "Longest n-gram (2..5)")->capture_default_str();
  cmd->add_option("--min-count", opts->build.min_count, "Fewest occurrences of a kept n-gram")
      ->capture_default_str();
  cmd->add_option("--top-k", opts->build.top_k, "N-grams kept, best PMI first")
      ->capture_default_str();
  cmd->add_option("--show", opts->show, "N-grams to print")->capture_default_str();
  cmd->callback([opts] { run_pmi_vocab(*opts); });
}

}  // namespace masklm::cli
