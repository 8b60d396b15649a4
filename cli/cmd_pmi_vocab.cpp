// `masklm pmi-vocab`: builds the PMI-Masking n-gram vocabulary (masking/pmi_builder.h)
// that `masking.strategy: pmi` reads, from the training shards of a prepared corpus (one
// span per document) or from a text file (one span per line); n-grams never cross spans.
#include <fmt/format.h>

#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/dataset_manifest.h"
#include "data/shard_reader.h"
#include "data/text_reader.h"
#include "data/tokenizer.h"
#include "masking/pmi_builder.h"
#include "runtime/error.h"

namespace masklm::cli {

namespace {

struct PmiVocabOptions {
  std::string tokenizer;
  std::string input;
  std::string shards;
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

// The training split's documents, read from the memory-mapped shards at every pass.
struct ShardDocuments {
  std::vector<ShardReader> shards;
  int64_t documents = 0, tokens = 0;

  TokenCorpus corpus() const {
    return [this](const TokenSpanVisitor& visit) {
      std::vector<int32_t> ids;
      for (const ShardReader& shard : shards) {
        const auto offsets = shard.document_offsets();
        for (int64_t d = 0; d < shard.num_documents(); ++d) {
          const auto begin = static_cast<int64_t>(offsets[static_cast<size_t>(d)]);
          const auto end = static_cast<int64_t>(offsets[static_cast<size_t>(d) + 1]);
          ids.resize(static_cast<size_t>(end - begin));
          shard.copy_tokens(begin, end, ids.data());
          visit(ids);
        }
      }
    };
  }
};

ShardDocuments open_training_shards(const Tokenizer& tokenizer, const std::filesystem::path& dir,
                                    const std::string& tokenizer_name) {
  ShardDocuments out;
  for (const ShardEntry& entry : DatasetManifest::read(dir).train.shards) {
    out.shards.emplace_back(dir / entry.file);
    out.shards.back().require_vocab(tokenizer.vocab_hash(), tokenizer_name);
    out.documents += out.shards.back().num_documents();
    out.tokens += out.shards.back().num_tokens();
  }
  MASKLM_CHECK(out.tokens > 0, "--shards {}: the training split holds no tokens", dir.string());
  return out;
}

PmiVocabulary build_from_input(const PmiVocabOptions& o, const Tokenizer& tokenizer) {
  MASKLM_CHECK(o.input.empty() != o.shards.empty(), "give either --shards DIR or --input FILE");
  if (!o.shards.empty()) {
    const ShardDocuments docs = open_training_shards(tokenizer, o.shards, o.tokenizer);
    fmt::print("{} documents, {} tokens\n", docs.documents, docs.tokens);
    return build_pmi_vocabulary(docs.corpus(), o.build);
  }
  const EncodedLines lines = encode_lines(tokenizer, o.input);
  fmt::print("{} lines, {} tokens\n", lines.offsets.size() - 1, lines.ids.size());
  return build_pmi_vocabulary(lines.corpus(), o.build);
}

void run_pmi_vocab(const PmiVocabOptions& o) {
  const auto tokenizer = Tokenizer::load(o.tokenizer);
  fmt::print("counting n-grams up to {} tokens seen at least {} times\n", o.build.max_n,
             o.build.min_count);
  const PmiVocabulary vocab = build_from_input(o, *tokenizer);
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
  auto* shards = cmd->add_option("--shards", opts->shards,
                                 "Directory from `masklm prepare`: its training split, one span "
                                 "per document");
  cmd->add_option("--input", opts->input, "Text file, one span per line")->excludes(shards);
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
