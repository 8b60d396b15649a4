// CPU sparse MLM head (logits against the tied embedding + cross-entropy) at BERT-base
// shape, C = 768, V = 30522, for P = 15%, 40% and 80% of a 4096-token batch.
// Reports FLOP/s of the matrix products: 2 P V C in the forward; 6 P V C in the backward
// (logits recomputed, then dh and demb).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/ops.h"

namespace masklm {
namespace {

constexpr int64_t kC = 768, kV = 30522, kTokens = 4096;

struct Head {
  int64_t P, chunk;
  std::vector<float> h, emb, bias, losses, lse, dh, demb, dbias;
  std::vector<int32_t> labels, correct;

  Head(int64_t P_, int64_t chunk_)
      : P(P_),
        chunk(chunk_),
        h(P * kC),
        emb(kV * kC),
        bias(kV),
        losses(P),
        lse(P),
        dh(P * kC),
        demb(kV * kC),
        dbias(kV),
        labels(P),
        correct(P) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0, 0.05f);
    for (auto* v : {&h, &emb, &bias})
      for (float& x : *v) x = normal(rng);
    for (int32_t& l : labels) l = int32_t(rng() % kV);
  }
  void forward() {
    Ctx ctx;
    mlm_xent_forward(ctx, host_tensor(losses, {P}), host_tensor(lse, {P}),
                     host_tensor(correct, {P}), host_tensor(h, {P, kC}), host_tensor(emb, {kV, kC}),
                     host_tensor(bias, {kV}), host_tensor(labels, {P}), chunk);
  }
  void backward() {
    Ctx ctx;
    mlm_xent_backward(ctx, host_tensor(dh, {P, kC}), host_tensor(demb, {kV, kC}),
                      host_tensor(dbias, {kV}), host_tensor(h, {P, kC}), host_tensor(emb, {kV, kC}),
                      host_tensor(bias, {kV}), host_tensor(labels, {P}), host_tensor(lse, {P}),
                      1.0 / double(P), chunk);
  }
  double matmul_flops(double per_pvc) const { return per_pvc * double(P) * kV * kC; }
};

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iteration * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_mlm_xent_forward(benchmark::State& state) {
  Head head(state.range(0) * kTokens / 100, state.range(1));
  for (auto _ : state) head.forward();
  set_flops(state, head.matmul_flops(2));
}

void BM_mlm_xent_backward(benchmark::State& state) {
  Head head(state.range(0) * kTokens / 100, state.range(1));
  head.forward();
  for (auto _ : state) head.backward();
  set_flops(state, head.matmul_flops(6));
}

// Args: {P as % of the batch's tokens, chunk size}. Real time: the work runs on all threads.
BENCHMARK(BM_mlm_xent_forward)
    ->ArgNames({"P%", "chunk"})
    ->ArgsProduct({{15, 40, 80}, {2048}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_mlm_xent_backward)
    ->ArgNames({"P%", "chunk"})
    ->ArgsProduct({{15, 40, 80}, {2048}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace masklm
