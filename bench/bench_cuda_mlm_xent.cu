// The sparse MLM head's fused softmax-cross-entropy (kernels/cuda/mlm_xent.cu): logits of
// the P predicted rows against the tied embedding in vocabulary chunks of 4096 (the
// model's default), with an online log-sum-exp. P = 15%, 40% or 80% of N = 16384 tokens;
// hidden 768 (base) or 1024 (large); vocabulary 30522 (BERT) or 50265 (RoBERTa); F32, or
// BF16 as bf16 training runs it (16-bit h, embedding, bias, dh and logits chunk; F32 losses,
// lse, demb, dbias). FLOPs: forward 2·P·C·V, backward 6·P·C·V (logits recomputed, then dh
// and demb), against the FP32 or the BF16 tensor-core peak (bench/cuda_bench.cuh). The
// chunk GEMMs dominate: the op is compute-bound, and no P x V logits reach HBM.
#include "cuda_bench.cuh"

namespace masklm::bench {
namespace {

constexpr int64_t kChunk = 4096;

struct XentInputs {
  Tensor h, emb, bias, labels, losses, lse, correct;
  int64_t P, C, V;
};

// Args: shape (0 base, 1 large), vocabulary size, predicted percent, bf16 (0 or 1).
DType xent_dtype(const benchmark::State& state) { return state.range(3) ? DType::BF16 : DType::F32; }

XentInputs xent_inputs(DeviceTensors& d, const benchmark::State& state) {
  XentInputs x;
  x.C = kBertShapes[state.range(0)].C;
  x.V = state.range(1);
  x.P = kTokens * state.range(2) / 100;
  const DType dt = xent_dtype(state);
  x.h = d.uniform_as(dt, {x.P, x.C});
  x.emb = d.uniform_as(dt, {x.V, x.C}, -0.05f, 0.05f);
  x.bias = d.uniform_as(dt, {x.V}, -0.05f, 0.05f);
  x.labels = d.ints({x.P}, 0, static_cast<int32_t>(x.V));
  x.losses = d.zeros({x.P});
  x.lse = d.zeros({x.P});
  x.correct = d.upload(std::vector<int32_t>(static_cast<size_t>(x.P)), {x.P});
  return x;
}

void report_xent(benchmark::State& state, double flops, double seconds) {
  const DType dt = xent_dtype(state);
  report_compute(state, dt, flops, seconds);
  state.SetLabel(std::string(kBertShapes[state.range(0)].name) + " " + dtype_name(dt).data());
}

void BM_mlm_xent_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  DeviceTensors d;
  const XentInputs x = xent_inputs(d, state);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    mlm_xent_forward(*ctx, x.losses, x.lse, x.correct, x.h, x.emb, x.bias, x.labels, kChunk);
  });
  report_xent(state, 2.0 * x.P * x.C * x.V, s);
}

void BM_mlm_xent_backward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  DeviceTensors d;
  const XentInputs x = xent_inputs(d, state);
  const Tensor dh = d.uniform_as(xent_dtype(state), {x.P, x.C}), demb = d.zeros({x.V, x.C}),
               dbias = d.zeros({x.V});
  // A real forward first: the backward reads its log-sum-exp.
  mlm_xent_forward(*ctx, x.losses, x.lse, x.correct, x.h, x.emb, x.bias, x.labels, kChunk);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    mlm_xent_backward(*ctx, dh, demb, dbias, x.h, x.emb, x.bias, x.labels, x.lse,
                      1.0 / static_cast<double>(x.P), kChunk);
  });
  report_xent(state, 6.0 * x.P * x.C * x.V, s);
}

void xent_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{0, 1}, {30522, 50265}, {15, 40, 80}, {0, 1}})
      ->ArgNames({"shape", "V", "predicted%", "bf16"})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_mlm_xent_forward)->Apply(xent_args);
BENCHMARK(BM_mlm_xent_backward)->Apply(xent_args);

}  // namespace
}  // namespace masklm::bench
