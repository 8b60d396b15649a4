// The whole pipeline on a small generated text, through the same library calls the CLI
// makes: train a BPE vocabulary → prepare token shards → pretrain a tiny model from a
// recipe on them (source: shards, on-the-fly masking) → the loss falls → the validation
// split evaluates to finite numbers; and a bitwise-exact resume on the shard source, also
// of the skip-corrupted model under every masking strategy.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "data/prepare.h"
#include "data/tokenizer_train.h"
#include "masking/pmi_builder.h"
#include "train/flops.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;
using testing::run_steps;

// Documents of simple sentences over a small lexicon, with word-order regularities a
// model can pick up. std::mt19937's raw output is the same on every platform.
std::vector<std::string> generated_documents(int count) {
  const std::vector<std::string> subjects = {"the cat", "a dog", "the old man", "my sister",
                                             "the farmer", "a small bird", "our teacher"};
  const std::vector<std::string> verbs = {"sees", "likes", "follows", "paints", "finds",
                                          "remembers"};
  const std::vector<std::string> objects = {"the river", "a red house", "the green field",
                                            "an apple tree", "the quiet village", "a letter"};
  const std::vector<std::string> endings = {"in the morning", "every day", "after the rain",
                                            "near the bridge", "with great care"};
  std::mt19937 rng(20240521);
  const auto pick = [&](const std::vector<std::string>& words) -> const std::string& {
    return words[rng() % words.size()];
  };
  std::vector<std::string> documents;
  for (int d = 0; d < count; ++d) {
    std::string doc;
    for (uint32_t s = 0; s < 4 + rng() % 5; ++s)
      doc += pick(subjects) + " " + pick(verbs) + " " + pick(objects) + " " + pick(endings) + ". ";
    documents.push_back(doc);
  }
  return documents;
}

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // ctest runs each test of the suite as its own process, two at a time: each prepares
    // its own copy of the data (a shared directory was emptied under a running test).
    data_dir_ = fresh_dir("end_to_end_data_" + std::to_string(getpid()));
    const std::vector<std::string> documents = generated_documents(400);
    std::string text;
    for (const std::string& d : documents) text += d + "\n\n";
    const auto corpus = data_dir_ / "corpus.txt";
    std::ofstream(corpus) << text;

    const auto tokenizer_path = data_dir_ / "tokenizer.json";
    train_tokenizer(TokenizerKind::BPE, 300, documents,
                    default_special_tokens(TokenizerKind::BPE), tokenizer_path);
    PrepareOptions options;
    options.inputs = {corpus};
    options.out_dir = data_dir_;
    options.tokenizer_path = tokenizer_path;
    options.val_fraction = 0.1;
    options.threads = 1;
    const auto tokenizer = Tokenizer::load(tokenizer_path);
    prepare_dataset(options, *tokenizer);

    // A PMI vocabulary of the same text, for the pmi strategy.
    const TokenCorpus encoded = [&](const TokenSpanVisitor& visit) {
      for (const std::string& d : documents) visit(tokenizer->encode(d, false).ids);
    };
    build_pmi_vocabulary(encoded, {.max_n = 3, .min_count = 5, .top_k = 200})
        .save(data_dir_ / "pmi.txt");
  }

  static void TearDownTestSuite() { std::filesystem::remove_all(data_dir_); }

  // The recipe, with `source: shards` reading the prepared directory (its tokenizer.json).
  static testing::SmallRun shard_run(const std::vector<std::string>& overrides = {}) {
    nlohmann::json tree = yaml_to_json(R"(
model: {num_layers: 1, hidden_size: 32, num_heads: 2, intermediate_size: 64, max_position_embeddings: 32,
        hidden_dropout: 0.1, attention_dropout: 0.0, pre_layernorm: true}
train:
  steps: 40
  batch_size: 8
  micro_batch_size: 4
  seq_len: 32
  seed: 3
  lr: {peak: 1.0e-2, warmup_steps: 4, decay: linear}
  optimizer: {clip_norm: 1.0}
  log_every: 10
  eval_batches: 4
masking: {strategy: uniform, mask_rate: 0.4, mask_split: {mask: 0.8, random: 0.1, keep: 0.1}}
)");
    tree["data"] = {{"source", "shards"}, {"dir", data_dir_.string()}};
    for (const std::string& o : overrides) apply_override(tree, o);
    testing::SmallRun run{parse_run_config(tree), {}};
    run.data = open_training_data(run.config);
    resolve_vocab_size(run.config, run.data.vocab_size, run.data.mask_token_id);
    return run;
  }

  // Resuming on reopened shards continues bit for bit (trainer_fixture.h).
  static void expect_bitwise_resume(const std::vector<std::string>& overrides,
                                    const std::string& name) {
    std::vector<std::string> all = overrides;
    all.push_back("train.steps=6");
    testing::expect_bitwise_resume([&] { return shard_run(all); }, fresh_dir(name));
  }

  static inline std::filesystem::path data_dir_;
};

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += v[i];
  return sum / static_cast<double>(end - begin);
}

TEST_F(EndToEnd, PretrainingOnPreparedShardsLearnsAndEvaluates) {
  auto run = shard_run();
  EXPECT_LE(run.config.model.vocab_size, 300);
  Trainer trainer(run.config, *run.data.train, run.data.validation.get(),
                  fresh_dir("end_to_end_run"));
  const EvalResult before = trainer.evaluate();
  const std::vector<double> losses = run_steps(trainer, run.config.train.steps);
  for (double l : losses) ASSERT_TRUE(std::isfinite(l));
  EXPECT_LT(mean(losses, 35, 40), mean(losses, 0, 5) - 1.0);

  const EvalResult after = trainer.evaluate();
  EXPECT_TRUE(std::isfinite(after.loss) && std::isfinite(after.perplexity));
  EXPECT_NEAR(after.perplexity, std::exp(after.loss), 1e-9 * after.perplexity);
  EXPECT_GE(after.accuracy, 0.0);
  EXPECT_LE(after.accuracy, 1.0);
  EXPECT_GT(after.predictions, 0);
  EXPECT_LT(after.loss, before.loss - 1.0);
  // Validation is masked at the fixed 15%, not at the training rate of 40%.
  const Batch val = run.data.validation->batch(0, 0);
  const double rate =
      static_cast<double>(val.num_predictions()) / static_cast<double>(val.num_tokens());
  EXPECT_NEAR(rate, 0.15, 0.05);
}

TEST_F(EndToEnd, ResumeOnShardsIsBitwiseExact) { expect_bitwise_resume({}, "end_to_end_resume"); }

// The skip-corrupted model (issue 9) under each masking strategy: the encoder runs on as
// many tokens as the masker left uncorrupted (which ones: test_skip_corrupted.cpp's split
// test), and a resume is bitwise exact.
class SkipCorruptedOnShards : public EndToEnd, public ::testing::WithParamInterface<std::string> {};
INSTANTIATE_TEST_SUITE_P(Strategies, SkipCorruptedOnShards,
                         ::testing::Values("uniform", "whole_word", "span", "pmi"));

TEST_P(SkipCorruptedOnShards, EncoderSkipsTheMaskersCorruptionAndResumesBitwise) {
  std::vector<std::string> overrides = {"model.encoder.skip_corrupted=true",
                                        "model.decoder.layers=1",
                                        "masking.strategy=" + GetParam()};
  if (GetParam() == "pmi") {
    const auto vocabulary = data_dir_ / "pmi.txt";
    ASSERT_FALSE(PmiVocabulary::load(vocabulary).ngrams().empty());  // n-gram units exist
    overrides.push_back("masking.pmi_vocab=" + vocabulary.string());
  }
  const auto run = shard_run(overrides);
  Trainer trainer(run.config, *run.data.train, nullptr, "");
  const StepResult step = trainer.train_step();
  const Batch first = run.data.train->batch(0, 0), last = run.data.train->batch(0, 1);
  EXPECT_GT(last.num_corrupted(), 0);
  EXPECT_EQ(trainer.model().encoder_tokens(), last.num_tokens() - last.num_corrupted());
  // What the step's FLOP count (train/flops.h) reads.
  EXPECT_EQ(step.counts.tokens, first.num_tokens() + last.num_tokens());
  EXPECT_EQ(step.counts.corrupted, first.num_corrupted() + last.num_corrupted());
  expect_bitwise_resume(overrides, "end_to_end_skip_" + GetParam());
}

// A train record's FLOP rate counts what the skip-corrupted model computes: per token, it is
// train/flops.h's count for the tokens, predictions and corrupted tokens of the record's
// steps (the ratio of the two rates, which the record's timing cancels out of).
TEST_F(EndToEnd, SkipCorruptedRecordsCountTheShortEncodersFlops) {
  const auto run = shard_run({"model.encoder.skip_corrupted=true", "model.decoder.layers=1",
                              "train.steps=4", "train.log_every=2", "train.eval_every=0"});
  const auto dir = fresh_dir("end_to_end_skip_flops");
  Trainer trainer(run.config, *run.data.train, nullptr, dir);
  ASSERT_EQ(trainer.run(), TrainOutcome::FINISHED);
  int64_t records = 0;
  for (const nlohmann::json& r : testing::read_jsonl(dir / "metrics.jsonl")) {
    if (r.at("kind") != "train") continue;
    ++records;
    TokenCounts window;
    for (int64_t step = r.at("step").get<int64_t>() - 2; step < r.at("step"); ++step)
      for (int64_t k = 0; k < run.config.train.accumulation_steps(); ++k) {
        const Batch b = run.data.train->batch(step, k);
        window.tokens += b.num_tokens();
        window.predictions += b.num_predictions();
        window.corrupted += b.num_corrupted();
      }
    ASSERT_GT(window.corrupted, 0);
    const double per_token = mlm_training_flops(run.config.model, window, run.config.train.seq_len) /
                             static_cast<double>(window.tokens);
    EXPECT_NEAR(r.at("model_flops_per_second").get<double>() / r.at("tokens_per_second").get<double>(),
                per_token, 1e-9 * per_token)
        << "record at step " << r.at("step");
  }
  EXPECT_EQ(records, 2);
}

}  // namespace
}  // namespace masklm
