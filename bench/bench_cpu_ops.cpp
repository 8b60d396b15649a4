// CPU backend microbenchmarks at BERT shapes: N = 2048 tokens (16 sequences x 128).
// Matmul reports FLOP/s (OpenBLAS sgemm does the work); LayerNorm and GELU report bytes/s,
// comparable with memory bandwidth (LayerNorm is bound by it, GELU still by its exps,
// dropout by its Philox draws).
// Wall-clock time, since OpenMP and OpenBLAS use every thread.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/ops.h"

namespace masklm {
namespace {

constexpr int64_t kTokens = 2048;
Ctx cpu_ctx;

std::vector<float> random_floats(int64_t n) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}


// Args: in features I, out features O.
void BM_matmul_forward(benchmark::State& state) {
  const int64_t N = kTokens, I = state.range(0), O = state.range(1);
  auto in = random_floats(N * I), weight = random_floats(O * I), bias = random_floats(O);
  std::vector<float> out(static_cast<size_t>(N * O));
  for (auto _ : state) {
    matmul_forward(cpu_ctx, host_tensor(out, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}), host_tensor(bias, {O}));
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * N * I * O * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_matmul_backward(benchmark::State& state) {
  const int64_t N = kTokens, I = state.range(0), O = state.range(1);
  auto in = random_floats(N * I), weight = random_floats(O * I), dout = random_floats(N * O);
  std::vector<float> din(static_cast<size_t>(N * I)), dweight(static_cast<size_t>(O * I)),
      dbias(static_cast<size_t>(O));
  for (auto _ : state) {
    matmul_backward(cpu_ctx, host_tensor(din, {N, I}), host_tensor(dweight, {O, I}), host_tensor(dbias, {O}),
                    host_tensor(dout, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}));
    benchmark::DoNotOptimize(din.data());
  }
  // Two GEMMs of the forward's size (din and dweight); the bias sum is negligible.
  state.counters["FLOP/s"] = benchmark::Counter(4.0 * N * I * O * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

// BERT-base linear layers: QKV projection, attention output, FFN up, FFN down.
void bert_linear_shapes(benchmark::internal::Benchmark* b) {
  b->Args({768, 2304})->Args({768, 768})->Args({768, 3072})->Args({3072, 768});
  b->ArgNames({"I", "O"})->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_matmul_forward)->Apply(bert_linear_shapes);
BENCHMARK(BM_matmul_backward)->Apply(bert_linear_shapes);

// Args: hidden size C.
void BM_layernorm_forward(benchmark::State& state) {
  const int64_t N = kTokens, C = state.range(0);
  auto in = random_floats(N * C), weight = random_floats(C), bias = random_floats(C);
  std::vector<float> out(static_cast<size_t>(N * C)), mean(N), rstd(N);
  for (auto _ : state) {
    layernorm_forward(cpu_ctx, host_tensor(out, {N, C}), host_tensor(mean, {N}), host_tensor(rstd, {N}),
                      host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(bias, {C}), 1e-5);
    benchmark::DoNotOptimize(out.data());
  }
  // Reads in, writes out.
  state.SetBytesProcessed(state.iterations() * 2 * N * C * static_cast<int64_t>(sizeof(float)));
}

void BM_layernorm_backward(benchmark::State& state) {
  const int64_t N = kTokens, C = state.range(0);
  auto in = random_floats(N * C), weight = random_floats(C), bias = random_floats(C);
  auto dout = random_floats(N * C);
  std::vector<float> out(static_cast<size_t>(N * C)), mean(N), rstd(N), din(static_cast<size_t>(N * C)),
      dweight(C), dbias(C);
  layernorm_forward(cpu_ctx, host_tensor(out, {N, C}), host_tensor(mean, {N}), host_tensor(rstd, {N}), host_tensor(in, {N, C}),
                    host_tensor(weight, {C}), host_tensor(bias, {C}), 1e-5);
  for (auto _ : state) {
    layernorm_backward(cpu_ctx, host_tensor(din, {N, C}), host_tensor(dweight, {C}), host_tensor(dbias, {C}),
                       host_tensor(dout, {N, C}), host_tensor(in, {N, C}), host_tensor(weight, {C}), host_tensor(mean, {N}),
                       host_tensor(rstd, {N}));
    benchmark::DoNotOptimize(din.data());
  }
  // Reads dout and in, reads and writes din (it accumulates).
  state.SetBytesProcessed(state.iterations() * 4 * N * C * static_cast<int64_t>(sizeof(float)));
}

void bert_hidden_sizes(benchmark::internal::Benchmark* b) {
  b->Arg(768)->Arg(1024)->ArgName("C")->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_layernorm_forward)->Apply(bert_hidden_sizes);
BENCHMARK(BM_layernorm_backward)->Apply(bert_hidden_sizes);

// Args: FFN width (BERT-base 3072, BERT-large 4096).
void BM_gelu_forward(benchmark::State& state) {
  const int64_t n = kTokens * state.range(0);
  auto in = random_floats(n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    gelu_forward(cpu_ctx, host_tensor(out, {n}), host_tensor(in, {n}));
    benchmark::DoNotOptimize(out.data());
  }
  // Reads in, writes out.
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<int64_t>(sizeof(float)));
}

void BM_gelu_backward(benchmark::State& state) {
  const int64_t n = kTokens * state.range(0);
  auto in = random_floats(n), dout = random_floats(n);
  std::vector<float> din(static_cast<size_t>(n));
  for (auto _ : state) {
    gelu_backward(cpu_ctx, host_tensor(din, {n}), host_tensor(dout, {n}), host_tensor(in, {n}));
    benchmark::DoNotOptimize(din.data());
  }
  // Reads dout and in, reads and writes din (it accumulates).
  state.SetBytesProcessed(state.iterations() * 4 * n * static_cast<int64_t>(sizeof(float)));
}

void bert_ffn_widths(benchmark::internal::Benchmark* b) {
  b->Arg(3072)->Arg(4096)->ArgName("F")->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_gelu_forward)->Apply(bert_ffn_widths);
BENCHMARK(BM_gelu_backward)->Apply(bert_ffn_widths);

// Hidden dropout at p = 0.1 on N x C values (one Philox uniform each). Args: hidden size C.
const RngKey kDropoutKey{42, 1, 0, RngStream::HIDDEN_DROPOUT, 3};

void BM_dropout_forward(benchmark::State& state) {
  const int64_t n = kTokens * state.range(0);
  auto in = random_floats(n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    dropout_forward(cpu_ctx, host_tensor(out, {n}), host_tensor(in, {n}), 0.1f, kDropoutKey);
    benchmark::DoNotOptimize(out.data());
  }
  // Reads in, writes out.
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<int64_t>(sizeof(float)));
}

void BM_dropout_backward(benchmark::State& state) {
  const int64_t n = kTokens * state.range(0);
  auto dout = random_floats(n);
  std::vector<float> din(static_cast<size_t>(n));
  for (auto _ : state) {
    dropout_backward(cpu_ctx, host_tensor(din, {n}), host_tensor(dout, {n}), 0.1f, kDropoutKey);
    benchmark::DoNotOptimize(din.data());
  }
  // Reads dout, reads and writes din (it accumulates).
  state.SetBytesProcessed(state.iterations() * 3 * n * static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(BM_dropout_forward)->Apply(bert_hidden_sizes);
BENCHMARK(BM_dropout_backward)->Apply(bert_hidden_sizes);

}  // namespace
}  // namespace masklm
