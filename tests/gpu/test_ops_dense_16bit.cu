// GPU embeddings, LayerNorm, matmul and row gathers/scatters with BF16/F16 activations and compute
// weights against the CPU ops in F64 on the same 16-bit-rounded inputs (the fp32 mode is
// tests/gpu/test_ops_dense.cu). What kernels/cuda/precision.h keeps in fp32 (LayerNorm
// mean/rstd, parameter gradients) is held to the fp32 bound: only its inputs are 16-bit.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "gradcheck.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_bitwise_equal;
using gpu_testing::expect_close;
using gpu_testing::for_each_16bit;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
using gpu_testing::random_ids;
using gpu_testing::to_storage;
using gpu_testing::widen;
using testing::random_vector;

template <typename T16> std::vector<T16> random16(int64_t n, uint32_t seed, double lo = -1, double hi = 1) {
  return to_storage<T16>(random_vector<float>(n, seed, lo, hi));
}
std::vector<double> to_double(const std::vector<float>& v) { return widen(v); }

// ---- embeddings ------------------------------------------------------------------

struct EmbeddingCase {
  int64_t N, C, V;
};
class Embedding16Gpu : public ::testing::TestWithParam<EmbeddingCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, Embedding16Gpu,
                         ::testing::Values(EmbeddingCase{1, 59, 30522}, EmbeddingCase{127, 771, 30522},
                                           EmbeddingCase{513, 59, 50265}));

// 16-bit tables and out; the table gradients are fp32 (the optimizer's gradient buffer).
TEST_P(Embedding16Gpu, ForwardAndFp32GradientsMatchCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C, V] = GetParam();
  const int64_t P = 514, TV = 2;  // max positions, type vocabulary
  auto tokens = random_ids(N, V, 1, 4), positions = random_ids(N, P, 2), types = random_ids(N, TV, 3);
  const auto dwte0 = random_vector<float>(V * C, 8), dwpe0 = random_vector<float>(P * C, 9);
  const auto dwtt0 = random_vector<float>(TV * C, 10);
  for_each_16bit([&]<typename T16>() {
    const auto wte = random16<T16>(V * C, 4), wpe = random16<T16>(P * C, 5), wtt = random16<T16>(TV * C, 6);
    const auto dout = random16<T16>(N * C, 7);
    auto wte64 = widen(wte), wpe64 = widen(wpe), wtt64 = widen(wtt), dout64 = widen(dout);
    auto dwte64 = to_double(dwte0), dwpe64 = to_double(dwpe0), dwtt64 = to_double(dwtt0);
    std::vector<double> out64(static_cast<size_t>(N * C));
    Ctx cpu = cpu_ctx();
    embedding_forward(cpu, host_tensor(out64, {N, C}), host_tensor(tokens), host_tensor(positions),
                      host_tensor(types), host_tensor(wte64, {V, C}), host_tensor(wpe64, {P, C}),
                      host_tensor(wtt64, {TV, C}));
    embedding_backward(cpu, host_tensor(dwte64, {V, C}), host_tensor(dwpe64, {P, C}), host_tensor(dwtt64, {TV, C}),
                       host_tensor(dout64, {N, C}), host_tensor(tokens), host_tensor(positions), host_tensor(types));

    GpuOps g;
    const Tensor d_tokens = g.up(tokens), d_positions = g.up(positions), d_types = g.up(types);
    const Tensor d_out = g.output<T16>({N, C}), d_dwte = g.up(dwte0, {V, C}), d_dwpe = g.up(dwpe0, {P, C});
    const Tensor d_dwtt = g.up(dwtt0, {TV, C});
    embedding_forward(g.ctx, d_out, d_tokens, d_positions, d_types, g.up(wte, {V, C}), g.up(wpe, {P, C}),
                      g.up(wtt, {TV, C}));
    embedding_backward(g.ctx, d_dwte, d_dwpe, d_dwtt, g.up(dout, {N, C}), d_tokens, d_positions, d_types);
    expect_close(widen(g.down<T16>(d_out)), out64, nmse_bound(dtype_of<T16>()), "embedding out");
    expect_close(widen(g.down<float>(d_dwte)), dwte64, nmse_bound(DType::F32), "dwte");
    expect_close(widen(g.down<float>(d_dwpe)), dwpe64, nmse_bound(DType::F32), "dwpe");
    expect_close(widen(g.down<float>(d_dwtt)), dwtt64, nmse_bound(DType::F32), "dwtt");
    g.expect_guards_intact();
  });
}

// ---- layernorm -------------------------------------------------------------------

struct RowsCase {
  int64_t N, C;
};
class LayerNorm16Gpu : public ::testing::TestWithParam<RowsCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, LayerNorm16Gpu,
                         ::testing::Values(RowsCase{1, 59}, RowsCase{127, 771}, RowsCase{513, 59}, RowsCase{513, 1024},
                                           RowsCase{130, 3}));

// 16-bit in, out, weight, bias, dout and din; fp32 mean, rstd, dweight and dbias.
TEST_P(LayerNorm16Gpu, ForwardAndBackwardMatchCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C] = GetParam();
  const auto dw0 = random_vector<float>(C, 6), db0 = random_vector<float>(C, 7);
  for_each_16bit([&]<typename T16>() {
    // A mean of 50 against a spread of 1: a one-pass variance would cancel badly.
    const auto in = random16<T16>(N * C, 1, 49, 51), weight = random16<T16>(C, 2), bias = random16<T16>(C, 3);
    const auto dout = random16<T16>(N * C, 4), din0 = random16<T16>(N * C, 5);
    auto in64 = widen(in), weight64 = widen(weight), bias64 = widen(bias), dout64 = widen(dout);
    auto din64 = widen(din0), dw64 = to_double(dw0), db64 = to_double(db0);
    std::vector<double> out64(static_cast<size_t>(N * C)), mean64(static_cast<size_t>(N)), rstd64 = mean64;
    Ctx cpu = cpu_ctx();
    const double eps = 1e-5;
    layernorm_forward(cpu, host_tensor(out64, {N, C}), host_tensor(mean64), host_tensor(rstd64),
                      host_tensor(in64, {N, C}), host_tensor(weight64), host_tensor(bias64), eps);
    // Both backwards get the same statistics: the CPU's, rounded to the GPU's fp32.
    const std::vector<float> mean(mean64.begin(), mean64.end()), rstd(rstd64.begin(), rstd64.end());
    auto mean_f = to_double(mean), rstd_f = to_double(rstd);
    layernorm_backward(cpu, host_tensor(din64, {N, C}), host_tensor(dw64), host_tensor(db64),
                       host_tensor(dout64, {N, C}), host_tensor(in64, {N, C}), host_tensor(weight64),
                       host_tensor(mean_f), host_tensor(rstd_f));

    GpuOps g;
    const Tensor d_in = g.up(in, {N, C}), d_weight = g.up(weight);
    const Tensor d_out = g.output<T16>({N, C}), d_mean = g.output({N}), d_rstd = g.output({N});
    const Tensor d_din = g.up(din0, {N, C}), d_dw = g.up(dw0), d_db = g.up(db0);
    layernorm_forward(g.ctx, d_out, d_mean, d_rstd, d_in, d_weight, g.up(bias), eps);
    layernorm_backward(g.ctx, d_din, d_dw, d_db, g.up(dout, {N, C}), d_in, d_weight, g.up(mean), g.up(rstd));
    const double bound16 = nmse_bound(dtype_of<T16>()), bound32 = nmse_bound(DType::F32);
    expect_close(widen(g.down<T16>(d_out)), out64, bound16, "layernorm out");
    expect_close(widen(g.down<float>(d_mean)), mean64, bound32, "mean");
    expect_close(widen(g.down<float>(d_rstd)), rstd64, bound32, "rstd");
    expect_close(widen(g.down<T16>(d_din)), din64, bound16, "din");
    expect_close(widen(g.down<float>(d_dw)), dw64, bound32, "dweight");
    expect_close(widen(g.down<float>(d_db)), db64, bound32, "dbias");
    g.expect_guards_intact();
  });
}

// A 16-bit LayerNorm keeps its statistics in F32; 16-bit ones are refused by name.
TEST(LayerNorm16GpuErrors, StatisticsMustBeF32) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t N = 3, C = 59;
  GpuOps g;
  const auto in = to_storage<__nv_bfloat16>(random_vector<float>(N * C, 1));
  const auto w = to_storage<__nv_bfloat16>(random_vector<float>(C, 2));
  const Tensor out = g.output<__nv_bfloat16>({N, C}), bf16_stats = g.output<__nv_bfloat16>({N});
  const Tensor d_in = g.up(in, {N, C}), d_w = g.up(w);
  testing::expect_error([&] { layernorm_forward(g.ctx, out, bf16_stats, bf16_stats, d_in, d_w, d_w, 1e-5); },
                        {"layernorm_forward", "mean", "expected F32"});
}

// ---- matmul ----------------------------------------------------------------------

struct MatmulCase {
  int64_t N, I, O;
  bool bias;
};
class Matmul16Gpu : public ::testing::TestWithParam<MatmulCase> {};
// Odd widths (59, 177, 771) leave 16-bit rows 2-byte aligned: cuBLASLt must pick an
// algorithm for that alignment (or the op says it has none).
INSTANTIATE_TEST_SUITE_P(Shapes, Matmul16Gpu,
                         ::testing::Values(MatmulCase{1, 59, 771, true}, MatmulCase{127, 771, 59, true},
                                           MatmulCase{513, 59, 177, false}, MatmulCase{127, 768, 3072, true},
                                           MatmulCase{513, 3084, 771, true}));

// One forward and backward of the op from the same values on the CPU in F64 and on the GPU:
// 16-bit in, weight, bias, dout and din (added to); fp32 dweight and dbias (added to).
struct MatmulResults {
  std::vector<double> out, din, dweight, dbias;
};
struct MatmulRun {
  MatmulResults cpu, gpu;
};
template <typename T16>
MatmulRun run_matmul(const MatmulCase& c, const std::vector<T16>& in,
                     const std::vector<T16>& weight, const std::vector<T16>& bias,
                     const std::vector<T16>& dout, const std::vector<T16>& din0,
                     const std::vector<float>& dw0, const std::vector<float>& db0) {
  const auto [N, I, O, with_bias] = c;
  auto in64 = widen(in), weight64 = widen(weight), bias64 = widen(bias), dout64 = widen(dout);
  MatmulRun r{{std::vector<double>(static_cast<size_t>(N * O)), widen(din0), to_double(dw0),
               to_double(db0)},
              {}};
  Ctx cpu = cpu_ctx();
  matmul_forward(cpu, host_tensor(r.cpu.out, {N, O}), host_tensor(in64, {N, I}),
                 host_tensor(weight64, {O, I}), with_bias ? host_tensor(bias64) : Tensor{});
  matmul_backward(cpu, host_tensor(r.cpu.din, {N, I}), host_tensor(r.cpu.dweight, {O, I}),
                  host_tensor(r.cpu.dbias), host_tensor(dout64, {N, O}), host_tensor(in64, {N, I}),
                  host_tensor(weight64, {O, I}));

  GpuOps g;
  const Tensor d_in = g.up(in, {N, I}), d_weight = g.up(weight, {O, I}),
               d_out = g.output<T16>({N, O});
  const Tensor d_din = g.up(din0, {N, I}), d_dw = g.up(dw0, {O, I}), d_db = g.up(db0);
  matmul_forward(g.ctx, d_out, d_in, d_weight, with_bias ? g.up(bias) : Tensor{});
  matmul_backward(g.ctx, d_din, d_dw, d_db, g.up(dout, {N, O}), d_in, d_weight);
  r.gpu = {widen(g.down<T16>(d_out)), widen(g.down<T16>(d_din)), widen(g.down<float>(d_dw)),
           widen(g.down<float>(d_db))};
  g.expect_guards_intact();
  return r;
}

// cuBLASLt sums in fp32 and rounds once.
TEST_P(Matmul16Gpu, ForwardAndBackwardMatchCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, I, O, with_bias] = GetParam();
  const auto dw0 = random_vector<float>(O * I, 12), db0 = random_vector<float>(O, 13);
  for_each_16bit([&]<typename T16>() {
    const MatmulRun r = run_matmul(GetParam(), random16<T16>(N * I, 1), random16<T16>(O * I, 2),
                                   random16<T16>(O, 3), random16<T16>(N * O, 4),
                                   random16<T16>(N * I, 11), dw0, db0);
    const double bound16 = nmse_bound(dtype_of<T16>()), bound32 = nmse_bound(DType::F32);
    expect_close(r.gpu.out, r.cpu.out, bound16, "matmul out");
    expect_close(r.gpu.din, r.cpu.din, bound16, "din");
    expect_close(r.gpu.dweight, r.cpu.dweight, bound32, "dweight");
    expect_close(r.gpu.dbias, r.cpu.dbias, bound32, "dbias");
  });
}

// Operands on a grid of 1/16 in [-1, 1]: every product is a multiple of 2^-8 and every sum
// (at most 3085 terms) stays below 2^12, within fp32's 24 bits, so cuBLASLt's fp32 sums are
// exact in any order and however K is split: each 16-bit out and din must be its exact
// value rounded once, bit for bit (split-K partial sums added in 16 bits round twice).
TEST_P(Matmul16Gpu, ExactSumsAreRoundedOnce) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, I, O, with_bias] = GetParam();
  const auto sixteenths = [](int64_t n, uint32_t seed) {
    std::vector<float> v = random_vector<float>(n, seed);
    for (float& x : v) x = std::round(16 * x) / 16;
    return v;
  };
  for_each_16bit([&]<typename T16>() {
    const MatmulRun r = run_matmul(
        GetParam(), to_storage<T16>(sixteenths(N * I, 1)), to_storage<T16>(sixteenths(O * I, 2)),
        to_storage<T16>(sixteenths(O, 3)), to_storage<T16>(sixteenths(N * O, 4)),
        to_storage<T16>(sixteenths(N * I, 5)), std::vector<float>(O * I), std::vector<float>(O));
    testing::expect_rounded_once(r.gpu.out, r.cpu.out, dtype_of<T16>(), "matmul out");
    testing::expect_rounded_once(r.gpu.din, r.cpu.din, dtype_of<T16>(), "din");
  });
}

// ---- rows ------------------------------------------------------------------------

class Rows16Gpu : public ::testing::TestWithParam<RowsCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, Rows16Gpu,
                         ::testing::Values(RowsCase{1, 59}, RowsCase{127, 771}, RowsCase{513, 59}, RowsCase{513, 771}));

// A gather copies 16-bit values exactly; a scatter adds each row's run in fp32 and rounds once.
TEST_P(Rows16Gpu, GatherIsExactAndScatterAddMatchesCpuInF64) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C] = GetParam();
  const int64_t P = std::max<int64_t>(1, N / 3) + 2;
  auto index = random_ids(P, N, 1, static_cast<int32_t>(N / 2));
  for_each_16bit([&]<typename T16>() {
    const auto in = random16<T16>(N * C, 2), src = random16<T16>(P * C, 3), dst0 = random16<T16>(N * C, 4);
    auto in64 = widen(in), src64 = widen(src), dst64 = widen(dst0);
    std::vector<double> gathered64(static_cast<size_t>(P * C));
    Ctx cpu = cpu_ctx();
    gather_rows(cpu, host_tensor(gathered64, {P, C}), host_tensor(in64, {N, C}), host_tensor(index));
    scatter_add_rows(cpu, host_tensor(dst64, {N, C}), host_tensor(src64, {P, C}), host_tensor(index));

    GpuOps g;
    const Tensor d_index = g.up(index), d_gathered = g.output<T16>({P, C}), d_dst = g.up(dst0, {N, C});
    gather_rows(g.ctx, d_gathered, g.up(in, {N, C}), d_index);
    scatter_add_rows(g.ctx, d_dst, g.up(src, {P, C}), d_index);
    expect_bitwise_equal(widen(g.down<T16>(d_gathered)), gathered64, "gather_rows");
    expect_close(widen(g.down<T16>(d_dst)), dst64, nmse_bound(dtype_of<T16>()), "scatter_add_rows");
    g.expect_guards_intact();
  });
}

}  // namespace
}  // namespace masklm
