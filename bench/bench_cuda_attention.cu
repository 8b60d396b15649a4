// The CUDA attention kernel (kernels/cuda/attention.cu) on N = 16384 unpadded tokens: 128
// sequences of 128 or 32 of 512, BERT-base (12 heads) and BERT-large (16 heads), head size
// 64, with and without attention dropout 0.1. FLOPs counted as for dense attention:
// forward 4·N·T·C (QKᵀ and A·V), backward 2.5x that (QKᵀ recomputed, then dV, dP, dQ, dK),
// against the FP32 peak (bench/cuda_bench.cuh). The fused 16-bit kernel, cuDNN's SDPA and
// the PyTorch peers are in bench_cuda_flash_attention.cu and bench/attention_peer.py.
#include "cuda_bench.cuh"

namespace masklm::bench {
namespace {

struct AttentionInputs {
  Tensor qkv, out, lse, cu_seqlens;
  int64_t T, C, NH;
  float p;
};

// Args: shape (0 base, 1 large), sequence length, dropout in percent.
AttentionInputs attention_inputs(DeviceTensors& d, const benchmark::State& state) {
  const BertShape& shape = kBertShapes[state.range(0)];
  AttentionInputs a;
  a.T = state.range(1);
  a.C = shape.C;
  a.NH = shape.NH;
  a.p = static_cast<float>(state.range(2)) / 100.0f;
  a.qkv = d.uniform({kTokens, 3 * a.C});
  a.out = d.zeros({kTokens, a.C});
  a.lse = d.zeros({a.NH, kTokens});
  a.cu_seqlens = d.upload(uniform_cu_seqlens(a.T), {kTokens / a.T + 1});
  return a;
}

const RngKey kDropoutKey{.seed = 3, .step = 1, .stream = RngStream::ATTENTION_DROPOUT};

void BM_attention_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  DeviceTensors d;
  const AttentionInputs a = attention_inputs(d, state);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    attention_forward(*ctx, a.out, a.lse, a.qkv, a.cu_seqlens, static_cast<int>(a.NH), a.p,
                      kDropoutKey);
  });
  report_flops(state, 4.0 * kTokens * a.T * a.C, s);
  state.SetLabel(kBertShapes[state.range(0)].name);
}

void BM_attention_backward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  DeviceTensors d;
  const AttentionInputs a = attention_inputs(d, state);
  const Tensor dout = d.uniform({kTokens, a.C}), dqkv = d.zeros({kTokens, 3 * a.C});
  // A real forward first: the backward reads its output and log-sum-exp.
  attention_forward(*ctx, a.out, a.lse, a.qkv, a.cu_seqlens, static_cast<int>(a.NH), a.p,
                    kDropoutKey);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    attention_backward(*ctx, dqkv, dout, a.out, a.qkv, a.lse, a.cu_seqlens, static_cast<int>(a.NH),
                       a.p, kDropoutKey);
  });
  report_flops(state, 10.0 * kTokens * a.T * a.C, s);
  state.SetLabel(kBertShapes[state.range(0)].name);
}

void attention_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{0, 1}, {128, 512}, {0, 10}})
      ->ArgNames({"shape", "T", "dropout%"})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_attention_forward)->Apply(attention_args);
BENCHMARK(BM_attention_backward)->Apply(attention_args);

}  // namespace
}  // namespace masklm::bench
