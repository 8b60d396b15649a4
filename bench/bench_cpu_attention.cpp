// CPU attention forward and backward at BERT-base shape (NH = 12, HS = 64) on batches of
// equal-length sequences, T = 128 and 512, with and without attention dropout.
// Reports FLOP/s counting the matrix products only: 4 T^2 HS per (sequence, head) in the
// forward; 10 T^2 HS in the backward (which recomputes the scores).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/ops.h"

namespace masklm {
namespace {

constexpr int64_t kHeads = 12, kHeadSize = 64, kC = kHeads * kHeadSize;
constexpr int64_t kTokens = 2048;  // per batch: 16 x 128 or 4 x 512

struct Batch {
  int64_t T, N = kTokens;
  float p;
  std::vector<int32_t> cu;
  std::vector<float> qkv, out, lse, dout, dqkv;
  RngKey key{1, 0, 0, RngStream::ATTENTION_DROPOUT, 0};

  Batch(int64_t T_, float p_)
      : T(T_),
        p(p_),
        qkv(N * 3 * kC),
        out(N * kC),
        lse(kHeads * N),
        dout(N * kC),
        dqkv(N * 3 * kC) {
    for (int64_t s = 0; s <= N; s += T) cu.push_back(int32_t(s));
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (float& x : qkv) x = normal(rng);
    for (float& x : dout) x = normal(rng);
  }
  void forward() {
    Ctx ctx;
    attention_forward(ctx, host_tensor(out, {N, kC}), host_tensor(lse, {kHeads, N}),
                      host_tensor(qkv, {N, 3 * kC}), host_tensor(cu, {int64_t(cu.size())}),
                      int(kHeads), p, key);
  }
  void backward() {
    Ctx ctx;
    attention_backward(ctx, host_tensor(dqkv, {N, 3 * kC}), host_tensor(dout, {N, kC}),
                       host_tensor(out, {N, kC}), host_tensor(qkv, {N, 3 * kC}),
                       host_tensor(lse, {kHeads, N}), host_tensor(cu, {int64_t(cu.size())}),
                       int(kHeads), p, key);
  }
  double matmul_flops(double per_t2_hs) const {
    return per_t2_hs * double(N / T) * kHeads * double(T * T) * kHeadSize;
  }
};

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iteration * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_attention_forward(benchmark::State& state) {
  Batch batch(state.range(0), float(state.range(1)) / 100);
  for (auto _ : state) batch.forward();
  set_flops(state, batch.matmul_flops(4));
}

void BM_attention_backward(benchmark::State& state) {
  Batch batch(state.range(0), float(state.range(1)) / 100);
  batch.forward();
  for (auto _ : state) batch.backward();
  set_flops(state, batch.matmul_flops(10));
}

// Args: {T, dropout percent}. Real time, because the work runs on all OpenMP threads.
BENCHMARK(BM_attention_forward)
    ->ArgNames({"T", "drop%"})
    ->ArgsProduct({{128, 512}, {0, 10}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_attention_backward)
    ->ArgNames({"T", "drop%"})
    ->ArgsProduct({{128, 512}, {0, 10}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace masklm
