// What the host spends building one training micro-batch from a prepared corpus (train/
// mlm_batch_source.h: reading packed sequences in the shuffled order, then masking them),
// at BERT's shape (128 sequences of 128 tokens, vocab 30522), for the uniform, whole-word
// and span strategies at 15%, 40% and 80% masking (80-10-10). The trainer builds a step's
// micro-batches on the host while the GPU waits, so this is time a GPU step cannot hide.
// The corpus is random documents of 50 to 1000 tokens in one shard (about 4M tokens).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "data/packed_dataset.h"
#include "data/shard_writer.h"
#include "masking/masker.h"
#include "train/mlm_batch_source.h"

namespace masklm {
namespace {

constexpr int32_t kVocab = 30522, kMaskId = 4;
constexpr int64_t kSeqLen = 128, kSequences = 128;
constexpr MaskingStrategy kStrategies[] = {MaskingStrategy::UNIFORM, MaskingStrategy::WHOLE_WORD,
                                           MaskingStrategy::SPAN};

// One shard of random documents, written once per process.
std::shared_ptr<const PackedDataset> corpus() {
  static const std::shared_ptr<const PackedDataset> data = [] {
    const auto path = std::filesystem::temp_directory_path() / "masklm_bench_batches.shard";
    ShardWriter writer(path, 0, kVocab);
    std::mt19937 rng(1);
    std::vector<int32_t> doc;
    for (int d = 0; d < 8000; ++d) {
      doc.resize(50 + rng() % 951);
      for (int32_t& id : doc) id = 5 + static_cast<int32_t>(rng() % (kVocab - 5));
      writer.add_document(doc);
    }
    writer.finish();
    std::vector<ShardReader> shards;
    shards.emplace_back(path);
    return std::make_shared<const PackedDataset>(std::move(shards), kSeqLen, PackingTokens{0, 2, 2});
  }();
  return data;
}

// Ids 0-4 special, every third token continuing a word (WordPiece's "##").
VocabInfo bench_vocab() {
  VocabInfo v;
  v.size = kVocab;
  v.mask_id = kMaskId;
  v.is_special.assign(kVocab, 0);
  for (int32_t id = 0; id < 5; ++id) v.is_special[static_cast<size_t>(id)] = 1;
  v.starts_word.assign(kVocab, 1);
  for (int32_t id = 5; id < kVocab; id += 3) v.starts_word[static_cast<size_t>(id)] = 0;
  return v;
}

// Args: strategy index into kStrategies, masking rate in percent.
void BM_MlmBatch(benchmark::State& state) {
  MaskingConfig masking;
  masking.strategy = kStrategies[state.range(0)];
  const double rate = static_cast<double>(state.range(1)) / 100.0;
  masking.corrupt_rate = RateSchedule::constant(rate * 0.9);
  masking.predict_rate = RateSchedule::constant(rate);
  MlmSourceOptions options;
  options.micro_batch_size = kSequences;
  options.total_steps = 1 << 20;
  const MlmBatchSource source(corpus(), std::make_shared<const Masker>(masking, bench_vocab()),
                              options);
  int64_t step = 0, predictions = 0;
  for (auto _ : state) {
    const Batch batch = source.batch(step++, 0);
    predictions += batch.num_predictions();
    benchmark::DoNotOptimize(batch.tokens.data());
  }
  state.SetLabel(masking_strategy_name(masking.strategy));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kSequences * kSeqLen),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["predicted"] = static_cast<double>(predictions) / static_cast<double>(step);
}
BENCHMARK(BM_MlmBatch)
    ->ArgsProduct({{0, 1, 2}, {15, 40, 80}})
    ->ArgNames({"strategy", "rate"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace masklm
