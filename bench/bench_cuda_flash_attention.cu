// The fused BF16 attention (kernels/cuda/flash_attention.cu, ops.h's attention with 16-bit
// tensors) on N = 16384 unpadded tokens: 128 sequences of 128 or 32 of 512, BERT-base (12
// heads) and BERT-large (16 heads), head size 64, attention dropout 0 and 0.1; forward, and
// forward + backward (issue 6's metric). FLOPs as flash-attention counts them: forward
// 4·N·T·C (QKᵀ and P·V), backward 2.5x that (five GEMMs; this kernel runs seven, see its
// header), against the BF16 tensor-core peak. kernel:1 runs cuDNN's SDPA instead
// (train.attention cudnn, kernels/cuda/cudnn_attention.cpp), in the same process: its time
// includes the copies to and from the padded layout and the read-back of cu_seqlens that
// masklm's unpadded batches cost it. PyTorch SDPA's FlashAttention-2 and cuDNN backends at the
// same shapes are in bench/attention_peer.py.
#include <random>
#include <string>
#include <vector>

#include "cuda_bench.cuh"
#include "kernels/cuda/precision.h"

namespace masklm::bench {
namespace {

struct FlashInputs {
  Tensor qkv, out, lse, dout, dqkv, cu_seqlens;
  int heads;
  float p;
};

// bf16 values uniform in [-1, 1).
Tensor bf16_uniform(DeviceTensors& d, Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<__nv_bfloat16> host(static_cast<size_t>(shape.numel()));
  for (__nv_bfloat16& x : host) x = __nv_bfloat16(dist(rng));
  return d.upload(host, shape);
}

// Args: shape (0 base, 1 large), sequence length, dropout in percent, kernel (0 fused, 1 cuDNN).
FlashInputs flash_inputs(DeviceTensors& d, const benchmark::State& state) {
  const BertShape& shape = kBertShapes[state.range(0)];
  const int64_t T = state.range(1), C = shape.C;
  std::mt19937 rng(7);
  FlashInputs f;
  f.heads = static_cast<int>(shape.NH);
  f.p = static_cast<float>(state.range(2)) / 100.0f;
  f.qkv = bf16_uniform(d, {kTokens, 3 * C}, rng);
  f.dout = bf16_uniform(d, {kTokens, C}, rng);
  f.out = bf16_uniform(d, {kTokens, C}, rng);
  f.dqkv = bf16_uniform(d, {kTokens, 3 * C}, rng);
  f.lse = d.zeros({shape.NH, kTokens});
  f.cu_seqlens = d.upload(uniform_cu_seqlens(T), {kTokens / T + 1});
  return f;
}

const RngKey kDropoutKey{.seed = 3, .step = 1, .stream = RngStream::ATTENTION_DROPOUT};


// Times the forward, or with `backward` the forward and backward together (the backward
// adds into dqkv each call; bf16 has the range for it).
void time_flash(benchmark::State& state, bool backward) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const bool cudnn = state.range(3) == 1;
#if !MASKLM_WITH_CUDNN
  if (cudnn) return state.SkipWithError("built without cuDNN (CMake's MASKLM_CUDNN)");
#endif
  ctx->attention = cudnn ? AttentionKernel::CUDNN : AttentionKernel::FUSED;
  DeviceTensors d;
  const FlashInputs f = flash_inputs(d, state);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    attention_forward(*ctx, f.out, f.lse, f.qkv, f.cu_seqlens, f.heads, f.p, kDropoutKey);
    if (backward)
      attention_backward(*ctx, f.dqkv, f.dout, f.out, f.qkv, f.lse, f.cu_seqlens, f.heads, f.p,
                         kDropoutKey);
  });
  const double forward_flops = 4.0 * kTokens * state.range(1) * kBertShapes[state.range(0)].C;
  report_tensor_flops(state, (backward ? 3.5 : 1.0) * forward_flops, s);
  state.SetLabel(std::string(kBertShapes[state.range(0)].name) + (cudnn ? " cuDNN" : " fused"));
}

void BM_flash_attention_forward(benchmark::State& state) { time_flash(state, false); }
void BM_flash_attention_forward_backward(benchmark::State& state) { time_flash(state, true); }

void flash_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{0, 1}, {128, 512}, {0, 10}, {0, 1}})
      ->ArgNames({"shape", "T", "dropout%", "kernel"})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_flash_attention_forward)->Apply(flash_args);
BENCHMARK(BM_flash_attention_forward_backward)->Apply(flash_args);

}  // namespace
}  // namespace masklm::bench
