// One full training step (forward, backward, AdamW) on the CPU at the BERT-mini (4 layers,
// hidden 256, 4 heads, FFN 1024), BERT-small (4/512/8/2048) and BERT-base (12/768/12/3072;
// about 25 s a step on two cores) shapes, pre-LN, vocab 30522,
// 32 sequences of 128 tokens, at several prediction rates: tokens/s, and how the sparse
// head keeps high rates cheap. bench/pretrain_step runs the 15% and 40% cases against
// PyTorch (bench/pretrain_step_peer.py) in the same run. The skip-corrupted model
// (model/skip_corrupted.h) runs every shape with every predicted token corrupted ([MASK]
// only) and a 2-layer decoder, so its encoder cost should fall with 1 - rate.
#include <benchmark/benchmark.h>

#include <string>

#include "model/mlm_model.h"
#include "random_mlm_batch.h"
#include "train/optimizer.h"

namespace masklm {
namespace {

constexpr int64_t kSeqLen = 128, kSequences = 32;
const char* const kPresets[] = {"mini", "small", "base"};

// Args: preset index into kPresets, prediction rate in percent, decoder layers of the
// skip-corrupted model (-1: the standard model).
void BM_TrainStep(benchmark::State& state) {
  const char* preset = kPresets[state.range(0)];
  const double rate = static_cast<double>(state.range(1)) / 100.0;
  ModelConfig cfg = model_preset(preset, 30522);
  cfg.pre_layernorm = true;  // the paper's recipe, and the PyTorch peer's architecture
  cfg.max_position_embeddings = kSeqLen;
  if (state.range(2) >= 0) {
    cfg.skip_corrupted = true;
    cfg.decoder_layers = state.range(2);
    cfg.mask_token_id = 4;  // any id: the benchmark's inputs are random
  }
  const Batch batch = bench::random_mlm_batch(kSequences, kSeqLen, cfg.vocab_size, rate, 1);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()});
  model.init_weights(0);
  AdamW opt(model.params(), model.grads(), AdamWConfig{});
  Ctx ctx;
  const DropoutPlan dropout{RngKey{0, 0, 0, RngStream::HIDDEN_DROPOUT, 0}, true};
  for (auto _ : state) {
    model.zero_grads(ctx);
    benchmark::DoNotOptimize(model.forward(ctx, batch, dropout).loss);
    model.backward(ctx, dropout);
    opt.step(ctx, 1e-4);
  }
  state.SetLabel(std::string(preset) + (cfg.skip_corrupted ? " skip-corrupted" : ""));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(batch.num_tokens()),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["predicted"] = static_cast<double>(batch.num_predictions());
}
BENCHMARK(BM_TrainStep)
    ->ArgsProduct({{0, 1, 2}, {15, 40, 80}, {-1}})
    ->ArgsProduct({{0, 1, 2}, {15, 40, 80}, {2}})
    ->ArgNames({"preset", "rate", "skip_decoder"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace masklm
