// `masklm mask-preview`: what a masking config does to real text. Shows masked examples
// token by token, or with --json measures the rates over N sequences.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/text_reader.h"
#include "data/tokenizer.h"
#include "masking/masker.h"
#include "masking/masking_stats.h"
#include "runtime/error.h"
#include "train/config_file.h"

namespace masklm::cli {

namespace {

struct MaskPreviewOptions {
  std::string config;
  std::string tokenizer;
  std::string input;
  int64_t n = 8;
  bool json = false;
  uint64_t seed = 0;
  int64_t step = 0;
  int64_t total_steps = 0;
  int64_t seq_len = 128;
};

// One sequence per line of the input, wrapped in the tokenizer's special tokens and cut
// to seq_len (the last token, [SEP] or </s>, is kept).
std::vector<std::vector<int32_t>> read_sequences(const Tokenizer& tokenizer,
                                                 const MaskPreviewOptions& o) {
  TextReader reader(o.input, TextReaderOptions{TextFormat::LINES});
  std::vector<std::string> lines;
  for (std::string line; reader.next(line);) lines.push_back(std::move(line));
  MASKLM_CHECK(!lines.empty(), "--input {} has no text", o.input);
  std::vector<std::vector<int32_t>> sequences;
  for (Encoding& e : tokenizer.encode_batch(lines, true)) {
    if (static_cast<int64_t>(e.ids.size()) > o.seq_len) {
      e.ids[static_cast<size_t>(o.seq_len - 1)] = e.ids.back();
      e.ids.resize(static_cast<size_t>(o.seq_len));
    }
    sequences.push_back(std::move(e.ids));
  }
  return sequences;
}

// Frequency-weighted replacement needs frequencies: here, the input's own token counts.
std::vector<double> token_counts(const std::vector<std::vector<int32_t>>& sequences,
                                 int32_t vocab_size) {
  std::vector<double> counts(static_cast<size_t>(vocab_size), 0);
  for (const auto& s : sequences)
    for (int32_t id : s) counts[static_cast<size_t>(id)] += 1;
  return counts;
}

// [orig→input] predicted and corrupted, [orig] predicted and kept, <orig→input> corrupted only.
std::string render(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                   const SequenceMasking& m) {
  std::string out;
  for (size_t t = 0; t < ids.size(); ++t) {
    const std::string original = tokenizer.id_to_token(ids[t]);
    std::string shown = original;
    if (m.corruption[t] != Corruption::NONE)
      shown = original + "→" + tokenizer.id_to_token(m.input[t]);
    if (m.predicted[t]) {
      shown = "[" + shown + "]";
    } else if (m.corruption[t] != Corruption::NONE) {
      shown = "<" + shown + ">";
    }
    out += (t ? " " : "") + shown;
  }
  return out;
}

void run_mask_preview(const MaskPreviewOptions& o) {
  MASKLM_CHECK(o.n > 0, "--n must be positive, got {}", o.n);
  MASKLM_CHECK(o.seq_len >= 2, "--seq-len must be at least 2, got {}", o.seq_len);
  const nlohmann::json root = load_yaml_file(o.config);
  MASKLM_CHECK(root.is_object() && root.contains("masking"), "{} has no masking section", o.config);
  const MaskingConfig config = masking_config_from_json(root.at("masking"), "masking");
  const auto tokenizer = Tokenizer::load(o.tokenizer);
  const auto sequences = read_sequences(*tokenizer, o);

  VocabInfo vocab = vocab_info_from_tokenizer(*tokenizer);
  if (config.replacement == ReplacementDistribution::FREQUENCY)
    vocab.frequency = token_counts(sequences, vocab.size);
  const Masker masker(config, vocab,
                      config.strategy == MaskingStrategy::PMI
                          ? PmiVocabulary::load(config.pmi_vocab)
                          : PmiVocabulary{});
  const bool scheduled = config.corrupt_rate.start != config.corrupt_rate.end ||
                         config.predict_rate.start != config.predict_rate.end;
  MASKLM_CHECK(!scheduled || o.total_steps > 0, "the masking rates follow a schedule: pass --total-steps");
  const MaskRates rates = masker.rates_at(o.step, o.total_steps);
  const RngKey key{o.seed, static_cast<uint32_t>(o.step), 0, RngStream::MASKING, 0};

  MaskingStats stats;
  if (!o.json) {
    fmt::print(
        "strategy {}, step {}: corrupt rate {:.4f}, predict rate {:.4f}; corrupted tokens become "
        "[MASK] "
        "{:.1f}%, random {:.1f}%\n",
        masking_strategy_name(config.strategy), o.step, rates.corrupt, rates.predict,
        100 * (1 - config.random_share), 100 * config.random_share);
    fmt::print(
        "[orig→input] predicted and corrupted, [orig] predicted and kept, <orig→input> corrupted "
        "only\n\n");
  }
  // Line i of the input is sequence i; further repetitions are new sequences (new masks).
  for (int64_t s = 0; s < o.n; ++s) {
    const auto& ids = sequences[static_cast<size_t>(s) % sequences.size()];
    const SequenceMasking m = masker.mask(ids, rates, key, static_cast<uint64_t>(s));
    stats.add(m);
    if (o.json) continue;
    const auto predicted = std::count(m.predicted.begin(), m.predicted.end(), 1);
    const auto corrupted = std::count_if(m.corruption.begin(), m.corruption.end(),
                                         [](Corruption c) { return c != Corruption::NONE; });
    fmt::print("#{}: {} tokens, {} eligible, {} predicted, {} corrupted\n{}\n\n", s, ids.size(),
               m.eligible, predicted, corrupted, render(*tokenizer, ids, m));
  }
  nlohmann::json report = stats.to_json();
  report["strategy"] = masking_strategy_name(config.strategy);
  report["step"] = o.step;
  report["configured_corrupt_rate"] = rates.corrupt;
  report["configured_predict_rate"] = rates.predict;
  if (o.json) {
    fmt::print("{}\n", report.dump(2));
  } else {
    fmt::print("measured over {} sequences: {}\n", o.n, report.dump());
  }
}

}  // namespace

void register_mask_preview(CLI::App& app) {
  auto opts = std::make_shared<MaskPreviewOptions>();
  auto* cmd = app.add_subcommand("mask-preview", "Show what a masking config does to text");
  cmd->add_option("--config", opts->config, "YAML config with a masking section")->required();
  cmd->add_option("--tokenizer", opts->tokenizer, "Hugging Face tokenizer.json")->required();
  cmd->add_option("--input", opts->input, "Text file, one sequence per line")->required();
  cmd->add_option("--n", opts->n, "Sequences to show or measure (lines repeat with new masks)")
      ->capture_default_str();
  cmd->add_flag("--json", opts->json,
                "Print measured statistics over the N sequences as one JSON object");
  cmd->add_option("--seed", opts->seed, "Masking seed")->capture_default_str();
  cmd->add_option("--step", opts->step, "Training step (for rate schedules)")
      ->capture_default_str();
  cmd->add_option("--total-steps", opts->total_steps,
                  "Training length (for linear/cosine schedules)")
      ->capture_default_str();
  cmd->add_option("--seq-len", opts->seq_len, "Longest sequence; longer lines are cut")
      ->capture_default_str();
  cmd->callback([opts] { run_mask_preview(*opts); });
}

}  // namespace masklm::cli
