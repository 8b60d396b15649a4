// One full training step (zero grads, forward with dropout, backward, AdamW with the
// gradient norm) of MlmModel on the GPU at the BERT-base and BERT-large shapes, pre-LN,
// vocabulary 30522, 128 sequences of 128 tokens, 15%, 40% and 80% of the tokens predicted.
// Counters: tokens/s; model TFLOP/s and MFU from train/flops.h (matmul FLOPs of the sparse
// head: only the P predicted rows count) against the FP32 peak, since masklm computes in
// fp32 with TF32 off (bench/cuda_bench.cuh); device memory the model, its optimizer and
// op scratch took (allocated once, so also the peak). bench/gpu_throughput sets these
// beside the PyTorch peer (bench/gpu_throughput_peer.py, bf16) measured in the same run.
#include <memory>

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

// Args: preset (0 base, 1 large), predicted percent.
void BM_TrainStepGpu(benchmark::State& state) {
  if (cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const char* preset = kBertShapes[state.range(0)].name;
  ModelConfig cfg = model_preset(preset, 30522);
  cfg.pre_layernorm = true;  // the paper's recipe, and the PyTorch peer's architecture
  cfg.max_position_embeddings = kSeqLen;
  const Batch batch = random_mlm_batch(kSequences, kSeqLen, cfg.vocab_size,
                                       static_cast<double>(state.range(1)) / 100.0, 1);

  // Its own context, so that the memory measured includes the op scratch this model needs.
  const size_t free_before = free_device_bytes();
  auto cuda = std::make_unique<CudaContext>();
  Ctx ctx{Device::CUDA, cuda.get()};
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F32, Device::CUDA);
  model.init_weights(0);
  AdamW opt(model.params(), model.grads(), AdamWConfig{});
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
  const double flops =
      mlm_training_flops(cfg, batch.num_tokens(), batch.num_predictions(), kSeqLen);
  state.SetLabel(std::string(preset) + " fp32");
  state.counters["tokens/s"] = static_cast<double>(batch.num_tokens()) * steps / seconds;
  state.counters["tokens/step"] = static_cast<double>(batch.num_tokens());
  state.counters["predicted"] = static_cast<double>(batch.num_predictions());
  state.counters["model_TFLOP/step"] = flops / 1e12;
  state.counters["TFLOP/s"] = flops * steps / seconds / 1e12;
  if (device_peaks().fp32_flops > 0)
    state.counters["MFU_fp32%"] = 100.0 * flops * steps / seconds / device_peaks().fp32_flops;
  state.counters["device_GiB"] = device_bytes / double(1 << 30);
  // For bench/gpu_throughput's MFU of the PyTorch peer (bf16).
  state.counters["peak_fp32_TFLOP/s"] = device_peaks().fp32_flops / 1e12;
  state.counters["peak_bf16_TFLOP/s"] = device_peaks().bf16_flops / 1e12;
}
BENCHMARK(BM_TrainStepGpu)
    ->ArgsProduct({{0, 1}, {15, 40, 80}})
    ->ArgNames({"preset", "rate"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace masklm::bench
