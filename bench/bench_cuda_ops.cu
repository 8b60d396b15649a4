// CUDA kernels of kernels/cuda/{matmul,layernorm,elementwise,embedding,rows,optim}.cu at
// BERT-base (C 768, FF 3072) and BERT-large (C 1024, FF 4096) shapes over N = 16384
// tokens (Args: 0 = base, 1 = large). Matmuls run in F32 and BF16 and report TFLOP/s and the
// fraction of the FP32 (BF16: tensor-core) peak; the memory-bound ops report GB/s and the
// fraction of HBM bandwidth, counting the least traffic each op needs (each tensor read or
// written once; `+=` outputs read and written). LayerNorm and the elementwise ops run in
// F32 and in BF16, as bf16 training runs them (16-bit activations and weights, F32
// statistics and parameter gradients); AdamW with and without writing the BF16 compute
// copy. Attention and the MLM head have their own files. bench/cuda_bench.cuh has the
// timing and the peaks.
#include "cuda_bench.cuh"
#include "model/params.h"

namespace masklm::bench {
namespace {

constexpr double kF32 = sizeof(float), kI32 = sizeof(int32_t);

// The linear layers of one block: QKV, attention output, FFN up, FFN down (Args index 1).
struct Linear {
  int64_t in, out;
};
Linear block_linear(const BertShape& s, int64_t which) {
  const Linear all[] = {{s.C, 3 * s.C}, {s.C, s.C}, {s.C, s.F}, {s.F, s.C}};
  return all[which];
}
const char* const kLinearNames[] = {"qkv", "attn_out", "ffn_up", "ffn_down"};

// Args index 2 picks the compute dtype: 0 F32 (against the FP32 peak), 1 BF16 (16-bit
// in, weight, out, din; fp32 dweight and dbias; against the BF16 tensor-core peak).
DType linear_dtype(const benchmark::State& state) { return state.range(2) ? DType::BF16 : DType::F32; }

void report_linear(benchmark::State& state, double flops, double seconds) {
  const DType dt = linear_dtype(state);
  report_compute(state, dt, flops, seconds);
  state.SetLabel(std::string(kBertShapes[state.range(0)].name) + " " +
                 kLinearNames[state.range(1)] + " " + dtype_name(dt).data());
}

void BM_matmul_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const Linear l = block_linear(kBertShapes[state.range(0)], state.range(1));
  const int64_t N = kTokens;
  const DType dt = linear_dtype(state);
  DeviceTensors d;
  const Tensor in = d.uniform_as(dt, {N, l.in}), w = d.uniform_as(dt, {l.out, l.in}),
               b = d.uniform_as(dt, {l.out}), out = d.uniform_as(dt, {N, l.out});
  const double s = time_on_gpu(state, *ctx, true, [&] { matmul_forward(*ctx, out, in, w, b); });
  report_linear(state, 2.0 * N * l.in * l.out, s);
}

void BM_matmul_backward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const Linear l = block_linear(kBertShapes[state.range(0)], state.range(1));
  const int64_t N = kTokens;
  const DType dt = linear_dtype(state);
  DeviceTensors d;
  const Tensor in = d.uniform_as(dt, {N, l.in}), w = d.uniform_as(dt, {l.out, l.in}),
               dout = d.uniform_as(dt, {N, l.out}), din = d.uniform_as(dt, {N, l.in}),
               dw = d.zeros({l.out, l.in}), db = d.zeros({l.out});
  const double s =
      time_on_gpu(state, *ctx, true, [&] { matmul_backward(*ctx, din, dw, db, dout, in, w); });
  report_linear(state, 4.0 * N * l.in * l.out, s);  // din and dweight GEMMs; the bias sum is O(N O)
}

void linear_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{0, 1}, {0, 1, 2, 3}, {0, 1}})->ArgNames({"shape", "linear", "bf16"});
}
BENCHMARK(BM_matmul_forward)->Apply(linear_args)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_matmul_backward)->Apply(linear_args)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Args index 1 of the memory-bound ops: 0 F32, 1 BF16 activations (and LayerNorm weights,
// the compute copy's); statistics and parameter gradients stay F32. Also labels the case.
DType activation_dtype_labelled(benchmark::State& state) {
  const DType dt = state.range(1) ? DType::BF16 : DType::F32;
  state.SetLabel(std::string(kBertShapes[state.range(0)].name) + " " + dtype_name(dt).data());
  return dt;
}

void BM_layernorm_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C;
  const DType dt = activation_dtype_labelled(state);
  const double e = static_cast<double>(dtype_size(dt));
  DeviceTensors d;
  const Tensor in = d.uniform_as(dt, {N, C}), w = d.uniform_as(dt, {C}), b = d.uniform_as(dt, {C}),
               out = d.uniform_as(dt, {N, C}), mean = d.zeros({N}), rstd = d.zeros({N});
  const double s = time_on_gpu(state, *ctx, true,
                               [&] { layernorm_forward(*ctx, out, mean, rstd, in, w, b, 1e-5); });
  report_bytes(state, e * 2.0 * N * C + kF32 * 2.0 * N, s);  // in, out, mean and rstd
}

// The residual add fused in front (the encoder's residual + LayerNorm pairs): a and b read,
// sum and out written, the statistics written.
void BM_residual_layernorm_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C;
  const DType dt = activation_dtype_labelled(state);
  const double e = static_cast<double>(dtype_size(dt));
  DeviceTensors d;
  const Tensor a = d.uniform_as(dt, {N, C}), b_in = d.uniform_as(dt, {N, C}), w = d.uniform_as(dt, {C}),
               bias = d.uniform_as(dt, {C}), sum = d.uniform_as(dt, {N, C}), out = d.uniform_as(dt, {N, C}),
               mean = d.zeros({N}), rstd = d.zeros({N});
  const double s = time_on_gpu(state, *ctx, true, [&] {
    residual_layernorm_forward(*ctx, sum, out, mean, rstd, a, b_in, w, bias, 1e-5);
  });
  report_bytes(state, e * 4.0 * N * C + kF32 * 2.0 * N, s);
}

void BM_layernorm_backward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C;
  const DType dt = activation_dtype_labelled(state);
  const double e = static_cast<double>(dtype_size(dt));
  DeviceTensors d;
  const Tensor in = d.uniform_as(dt, {N, C}), w = d.uniform_as(dt, {C}), dout = d.uniform_as(dt, {N, C}),
               mean = d.uniform({N}), rstd = d.uniform({N}, 0.5f, 2.0f), din = d.uniform_as(dt, {N, C}),
               dw = d.zeros({C}), db = d.zeros({C});
  const double s = time_on_gpu(
      state, *ctx, true, [&] { layernorm_backward(*ctx, din, dw, db, dout, in, w, mean, rstd); });
  // dout, in, din (+=: read and write); stats
  report_bytes(state, e * 4.0 * N * C + kF32 * 2.0 * N, s);
}

// A memory-bound op on `count` tensors of `rows` x `width` values of `dtype`, moving
// `traffic` x rows x width values per call. Values are random in [0.5, 2): positive, so
// AdamW's second moment is valid; outputs are overwritten or accumulated into, so their
// start values do not matter.
template <typename Op> void bench_streaming(benchmark::State& state, DType dtype, int64_t rows,
                                            int64_t width, int count, double traffic, Op op) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  DeviceTensors d;
  std::vector<Tensor> t;
  for (int i = 0; i < count; ++i) t.push_back(d.uniform_as(dtype, {rows, width}, 0.5f, 2.0f));
  const double s = time_on_gpu(state, *ctx, true, [&] { op(*ctx, t); });
  report_bytes(state, static_cast<double>(dtype_size(dtype)) * traffic * static_cast<double>(rows * width), s);
}

int64_t ffn_width(const benchmark::State& state) { return kBertShapes[state.range(0)].F; }
int64_t hidden(const benchmark::State& state) { return kBertShapes[state.range(0)].C; }
const RngKey kDropoutKey{.seed = 1, .step = 2};

void BM_gelu_forward(benchmark::State& state) {  // in, out
  bench_streaming(state, activation_dtype_labelled(state), kTokens, ffn_width(state), 2, 2,
                  [](Ctx& c, auto& t) { gelu_forward(c, t[1], t[0]); });
}
void BM_gelu_backward(benchmark::State& state) {  // dout, in, din (+=)
  bench_streaming(state, activation_dtype_labelled(state), kTokens, ffn_width(state), 3, 4,
                  [](Ctx& c, auto& t) { gelu_backward(c, t[2], t[0], t[1]); });
}
void BM_residual_forward(benchmark::State& state) {  // a, b, out
  bench_streaming(state, activation_dtype_labelled(state), kTokens, hidden(state), 3, 3,
                  [](Ctx& c, auto& t) { residual_forward(c, t[2], t[0], t[1]); });
}
void BM_add_inplace(benchmark::State& state) {  // src, dst (+=)
  bench_streaming(state, activation_dtype_labelled(state), kTokens, hidden(state), 2, 3,
                  [](Ctx& c, auto& t) { add_inplace(c, t[1], t[0]); });
}
void BM_dropout_forward(benchmark::State& state) {  // in, out
  bench_streaming(state, activation_dtype_labelled(state), kTokens, hidden(state), 2, 2,
                  [](Ctx& c, auto& t) { dropout_forward(c, t[1], t[0], 0.1f, kDropoutKey); });
}
void BM_dropout_backward(benchmark::State& state) {  // dout, din (+=)
  bench_streaming(state, activation_dtype_labelled(state), kTokens, hidden(state), 2, 3,
                  [](Ctx& c, auto& t) { dropout_backward(c, t[1], t[0], 0.1f, kDropoutKey); });
}

// Embeddings of a RoBERTa-size vocabulary: random token ids, positions 0..127 per sequence.
struct EmbeddingInputs {
  Tensor tokens, positions, wte, wpe;
};
EmbeddingInputs embedding_inputs(DeviceTensors& d, int64_t C) {
  constexpr int64_t kVocab = 50265, kSeq = 128;
  std::vector<int32_t> positions(static_cast<size_t>(kTokens));
  for (int64_t i = 0; i < kTokens; ++i)
    positions[static_cast<size_t>(i)] = static_cast<int32_t>(i % kSeq);
  return {d.ints({kTokens}, 0, kVocab), d.upload(positions, {kTokens}), d.uniform({kVocab, C}),
          d.uniform({kSeq, C})};
}

void BM_embedding_forward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C;
  DeviceTensors d;
  const EmbeddingInputs e = embedding_inputs(d, C);
  const Tensor out = d.zeros({N, C});
  const double s = time_on_gpu(state, *ctx, true, [&] {
    embedding_forward(*ctx, out, e.tokens, e.positions, Tensor{}, e.wte, e.wpe, Tensor{});
  });
  report_bytes(state, kF32 * 3.0 * N * C + kI32 * 2.0 * N, s);  // a row of each table, out; ids
}

void BM_embedding_backward(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C;
  DeviceTensors d;
  const EmbeddingInputs e = embedding_inputs(d, C);
  const Tensor dout = d.uniform({N, C}), dwte = d.zeros(e.wte.shape), dwpe = d.zeros(e.wpe.shape);
  const double s = time_on_gpu(state, *ctx, true, [&] {
    embedding_backward(*ctx, dwte, dwpe, Tensor{}, dout, e.tokens, e.positions, Tensor{});
  });
  // dout once per table; the word-gradient rows of the ids (nearly all distinct), read and
  // written; the 128 position rows are negligible.
  report_bytes(state, kF32 * 4.0 * N * C + kI32 * 2.0 * N, s);
}

// The sparse head's gather of the P = 15% predicted rows, and its backward.
void BM_gather_rows(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C, P = N * 15 / 100;
  DeviceTensors d;
  const Tensor in = d.uniform({N, C}), out = d.zeros({P, C}),
               index = d.ints({P}, 0, static_cast<int32_t>(N));
  const double s = time_on_gpu(state, *ctx, true, [&] { gather_rows(*ctx, out, in, index); });
  report_bytes(state, kF32 * 2.0 * P * C + kI32 * P, s);
}

void BM_scatter_add_rows(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t N = kTokens, C = kBertShapes[state.range(0)].C, P = N * 15 / 100;
  DeviceTensors d;
  const Tensor dst = d.zeros({N, C}), src = d.uniform({P, C}),
               index = d.ints({P}, 0, static_cast<int32_t>(N));
  const double s = time_on_gpu(state, *ctx, true, [&] { scatter_add_rows(*ctx, dst, src, index); });
  report_bytes(state, kF32 * 3.0 * P * C + kI32 * P, s);  // src, dst rows (+=)
}

// Parameters of the BERT-base or -large model (BERT vocabulary, 512 positions).
int64_t model_parameters(int64_t shape) {
  Arena measuring = Arena::measuring(Device::CUDA);
  ModelConfig cfg = model_preset(shape == 0 ? "base" : "large", 30522);
  return param_count(layout_params(cfg, measuring, DType::F32));
}

// The flat buffers AdamW and the gradient norm walk every step: n = the model's parameters.
// params, m, v read and written, grads read (F32); with Args index 1 also the BF16 compute
// copy written, as in bf16 training.
void BM_adamw_update(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t n = model_parameters(state.range(0));
  const bool copy = state.range(1) == 1;
  state.SetLabel(std::string(kBertShapes[state.range(0)].name) + (copy ? " + bf16 copy" : ""));
  const AdamWStep step{.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01};
  DeviceTensors d;
  const Tensor params = d.uniform({n}, 0.5f, 2.0f), grads = d.uniform({n}, 0.5f, 2.0f),
               m = d.uniform({n}, 0.5f, 2.0f), v = d.uniform({n}, 0.5f, 2.0f);
  const Tensor compute_copy = copy ? d.uniform_as(DType::BF16, {n}) : Tensor{};
  const double s = time_on_gpu(state, *ctx, true,
                               [&] { adamw_update(*ctx, params, grads, m, v, step, compute_copy); });
  report_bytes(state, (kF32 * 7.0 + (copy ? 2.0 : 0.0)) * static_cast<double>(n), s);
}
void BM_sum_squares(benchmark::State& state) {  // includes the copy of the result to the host
  bench_streaming(state, DType::F32, model_parameters(state.range(0)), 1, 1, 1,
                  [](Ctx& c, auto& t) { benchmark::DoNotOptimize(sum_squares(c, t[0])); });
}
void BM_scale_inplace(benchmark::State& state) {
  bench_streaming(state, DType::F32, model_parameters(state.range(0)), 1, 1, 2,
                  [](Ctx& c, auto& t) { scale_inplace(c, t[0], 0.5); });
}
void BM_fill_zero(benchmark::State& state) {
  bench_streaming(state, DType::F32, model_parameters(state.range(0)), 1, 1, 1,
                  [](Ctx& c, auto& t) { fill_zero(c, t[0]); });
}

// The 16-bit compute copy made whole from the fp32 master weights (after a checkpoint load
// or ZeRO-1's all-gather): F32 read, BF16 written.
void BM_convert_to_bf16(benchmark::State& state) {
  Ctx* ctx = gpu_ctx(state);
  if (!ctx) return;
  const int64_t n = model_parameters(state.range(0));
  DeviceTensors d;
  const Tensor master = d.uniform({n}), copy = d.uniform_as(DType::BF16, {n});
  const double s = time_on_gpu(state, *ctx, true, [&] { convert(*ctx, copy, master); });
  report_bytes(state, (kF32 + 2.0) * static_cast<double>(n), s);
}

void shape_args(benchmark::internal::Benchmark* b) {
  b->Arg(0)->Arg(1)->ArgName("shape")->UseManualTime()->Unit(benchmark::kMicrosecond);
}
void shape_dtype_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"shape", "bf16"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_layernorm_forward)->Apply(shape_dtype_args);
BENCHMARK(BM_layernorm_backward)->Apply(shape_dtype_args);
BENCHMARK(BM_residual_layernorm_forward)->Apply(shape_dtype_args);
BENCHMARK(BM_gelu_forward)->Apply(shape_dtype_args);
BENCHMARK(BM_gelu_backward)->Apply(shape_dtype_args);
BENCHMARK(BM_residual_forward)->Apply(shape_dtype_args);
BENCHMARK(BM_add_inplace)->Apply(shape_dtype_args);
BENCHMARK(BM_dropout_forward)->Apply(shape_dtype_args);
BENCHMARK(BM_dropout_backward)->Apply(shape_dtype_args);
BENCHMARK(BM_embedding_forward)->Apply(shape_args);
BENCHMARK(BM_embedding_backward)->Apply(shape_args);
BENCHMARK(BM_gather_rows)->Apply(shape_args);
BENCHMARK(BM_scatter_add_rows)->Apply(shape_args);
BENCHMARK(BM_adamw_update)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"shape", "copy"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sum_squares)->Apply(shape_args);
BENCHMARK(BM_scale_inplace)->Apply(shape_args);
BENCHMARK(BM_fill_zero)->Apply(shape_args);
BENCHMARK(BM_convert_to_bf16)->Apply(shape_args);

}  // namespace
}  // namespace masklm::bench
