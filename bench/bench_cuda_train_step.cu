// One full training step (zero grads, forward with dropout, backward, AdamW with the
// gradient norm) of MlmModel on the GPU at the BERT-base and BERT-large shapes, pre-LN,
// vocabulary 30522, 128 sequences of 128 tokens, 15%, 40% and 80% of the tokens predicted,
// in bf16 mixed precision (fp32 master weights; the fused attention) and in fp32 (TF32 off).
// Counters: tokens/s; model TFLOP/s and MFU from train/flops.h (matmul FLOPs of the sparse
// head: only the P predicted rows count) against the peak of the precision's units (BF16
// tensor cores, or FP32; bench/cuda_bench.cuh); device memory the model, its optimizer and
// op scratch took (allocated once, so also the peak). bench/gpu_throughput sets these
// beside the PyTorch peer (bench/gpu_throughput_peer.py, bf16) measured in the same run.
// The skip-corrupted model (model/skip_corrupted.h) runs the bf16 cases with every
// predicted token corrupted ([MASK] only) and a 2-layer decoder, as bench_cpu_train_step
// runs it on the CPU; its FLOPs count the shortened encoder and the decoder (train/flops.h).
#include <memory>
#include <optional>

#include "cuda_bench.cuh"
#include "model/mlm_model.h"
#include "random_mlm_batch.h"
#include "train/flops.h"
#include "train/optimizer.h"

namespace masklm::bench {
namespace {

constexpr int64_t kSeqLen = 128, kSequences = 128;

size_t free_device_bytes() {
  size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

// Args: preset (0 base, 1 large), predicted percent, 16-bit (1: bf16 mixed precision, 0: fp32),
// decoder layers of the skip-corrupted model (-1: the standard model).
void BM_TrainStepGpu(benchmark::State& state) {
  if (cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const char* preset = kBertShapes[state.range(0)].name;
  ModelConfig cfg = model_preset(preset, 30522);
  cfg.pre_layernorm = true;  // the paper's recipe, and the PyTorch peer's architecture
  cfg.max_position_embeddings = kSeqLen;
  if (state.range(3) >= 0) {
    cfg.skip_corrupted = true;
    cfg.decoder_layers = state.range(3);
    cfg.mask_token_id = 4;  // any id: the benchmark's inputs are random
  }
  const Batch batch = random_mlm_batch(kSequences, kSeqLen, cfg.vocab_size,
                                       static_cast<double>(state.range(1)) / 100.0, 1);

  // Its own context, so that the memory measured includes the op scratch this model needs.
  const size_t free_before = free_device_bytes();
  auto cuda = std::make_unique<CudaContext>();
  Ctx ctx{Device::CUDA, cuda.get()};
  const bool bf16 = state.range(2) != 0;
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()},
                 bf16 ? DType::BF16 : DType::F32, Device::CUDA);
  model.init_weights(0);
  AdamW opt(model.params(), model.grads(), AdamWConfig{}, std::nullopt, model.compute_copy());
  const DropoutPlan dropout{RngKey{0, 0, 0, RngStream::HIDDEN_DROPOUT, 0}, true};
  const double seconds = time_on_gpu(state, ctx, false, [&] {
    model.zero_grads(ctx);
    benchmark::DoNotOptimize(model.forward(ctx, batch, dropout).loss);
    model.backward(ctx, dropout);
    opt.step(ctx, 1e-4);
  });
  const double device_bytes =
      static_cast<double>(free_before) - static_cast<double>(free_device_bytes());

  const double steps = static_cast<double>(state.iterations());
  const double flops = mlm_training_flops(cfg,
                                          {.tokens = batch.num_tokens(),
                                           .predictions = batch.num_predictions(),
                                           .corrupted = batch.num_corrupted()},
                                          kSeqLen);
  const double peak = bf16 ? device_peaks().bf16_flops : device_peaks().fp32_flops;
  state.SetLabel(std::string(preset) + (bf16 ? " bf16" : " fp32") +
                 (cfg.skip_corrupted ? " skip-corrupted" : ""));
  state.counters["tokens/s"] = static_cast<double>(batch.num_tokens()) * steps / seconds;
  state.counters["tokens/step"] = static_cast<double>(batch.num_tokens());
  state.counters["predicted"] = static_cast<double>(batch.num_predictions());
  state.counters["model_TFLOP/step"] = flops / 1e12;
  state.counters["TFLOP/s"] = flops * steps / seconds / 1e12;
  if (peak > 0) state.counters["MFU%"] = 100.0 * flops * steps / seconds / peak;
  state.counters["device_GiB"] = device_bytes / double(1 << 30);
  // For bench/gpu_throughput's MFU of the PyTorch peer (bf16).
  state.counters["peak_bf16_TFLOP/s"] = device_peaks().bf16_flops / 1e12;
}
BENCHMARK(BM_TrainStepGpu)
    ->ArgsProduct({{0, 1}, {15, 40, 80}, {1, 0}, {-1}})
    ->ArgsProduct({{0, 1}, {15, 40, 80}, {1}, {2}})
    ->ArgNames({"preset", "rate", "bf16", "skip_decoder"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace masklm::bench
