// GPU embeddings, LayerNorm (alone and fused with the residual add), matmul and row
// gathers/scatters against the CPU, on awkward shapes (hidden 59 and 771, 1, 127 and 513 tokens, vocabularies 30522 and 50265), with
// guard bands; the ops that add in the CPU's order must match it bitwise.
#include <gtest/gtest.h>

#include <random>
#include <tuple>
#include <vector>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "gradcheck.h"

namespace masklm {
namespace {

using gpu_testing::cpu_ctx;
using gpu_testing::expect_bitwise_equal;
using gpu_testing::expect_close;
using gpu_testing::GpuOps;
using gpu_testing::nmse_bound;
using gpu_testing::random_ids;
using testing::random_vector;

// ---- embeddings ------------------------------------------------------------------

struct EmbeddingCase {
  int64_t N, C, V;
};
class EmbeddingGpu : public ::testing::TestWithParam<EmbeddingCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, EmbeddingGpu,
                         ::testing::Values(EmbeddingCase{1, 59, 30522}, EmbeddingCase{127, 771, 30522},
                                           EmbeddingCase{513, 59, 50265}, EmbeddingCase{513, 771, 50265}));

TEST_P(EmbeddingGpu, ForwardAndBackwardMatchCpuBitwise) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C, V] = GetParam();
  const int64_t max_positions = 514, type_vocab = 2;
  auto tokens = random_ids(N, V, 1, 4), positions = random_ids(N, max_positions, 2), types = random_ids(N, type_vocab, 3);
  auto wte = random_vector<float>(V * C, 4), wpe = random_vector<float>(max_positions * C, 5);
  auto wtt = random_vector<float>(type_vocab * C, 6), dout = random_vector<float>(N * C, 7);
  const auto dwte0 = random_vector<float>(V * C, 8), dwpe0 = random_vector<float>(max_positions * C, 9);
  const auto dwtt0 = random_vector<float>(type_vocab * C, 10);
  std::vector<float> out(static_cast<size_t>(N * C)), dwte = dwte0, dwpe = dwpe0, dwtt = dwtt0;
  Ctx cpu = cpu_ctx();
  embedding_forward(cpu, host_tensor(out, {N, C}), host_tensor(tokens), host_tensor(positions), host_tensor(types),
                    host_tensor(wte, {V, C}), host_tensor(wpe, {max_positions, C}), host_tensor(wtt, {type_vocab, C}));
  embedding_backward(cpu, host_tensor(dwte, {V, C}), host_tensor(dwpe, {max_positions, C}),
                     host_tensor(dwtt, {type_vocab, C}), host_tensor(dout, {N, C}), host_tensor(tokens),
                     host_tensor(positions), host_tensor(types));

  GpuOps g;
  const Tensor d_tokens = g.up(tokens), d_positions = g.up(positions), d_types = g.up(types);
  const Tensor d_out = g.output({N, C});
  const Tensor d_dwte = g.up(dwte0, {V, C}), d_dwpe = g.up(dwpe0, {max_positions, C});
  const Tensor d_dwtt = g.up(dwtt0, {type_vocab, C});
  embedding_forward(g.ctx, d_out, d_tokens, d_positions, d_types, g.up(wte, {V, C}), g.up(wpe, {max_positions, C}),
                    g.up(wtt, {type_vocab, C}));
  embedding_backward(g.ctx, d_dwte, d_dwpe, d_dwtt, g.up(dout, {N, C}), d_tokens, d_positions, d_types);
  expect_bitwise_equal(g.down<float>(d_out), out, "embedding out");
  expect_bitwise_equal(g.down<float>(d_dwte), dwte, "dwte");
  expect_bitwise_equal(g.down<float>(d_dwpe), dwpe, "dwpe");
  expect_bitwise_equal(g.down<float>(d_dwtt), dwtt, "dwtt");
  g.expect_guards_intact();
}

// A bad id on the GPU is reported by the next synchronization instead of being read.
TEST(EmbeddingGpuErrors, OutOfRangeTokenIsReported) {
  MASKLM_SKIP_WITHOUT_GPU();
  const int64_t N = 5, C = 59, V = 7;
  std::vector<int32_t> tokens{1, 2, 7, 0, 3}, positions{0, 1, 2, 3, 4};
  GpuOps g;
  const Tensor d_out = g.output({N, C});
  embedding_forward(g.ctx, d_out, g.up(tokens), g.up(positions), Tensor{}, g.up(random_vector<float>(V * C, 1), {V, C}),
                    g.up(random_vector<float>(N * C, 2), {N, C}), Tensor{});
  testing::expect_error([&] { g.cuda.synchronize(); }, "outside its table");
  g.cuda.synchronize();  // reported once, then cleared
  g.expect_guards_intact();
}

// ---- layernorm -------------------------------------------------------------------

struct RowsCase {
  int64_t N, C;
};
class LayerNormGpu : public ::testing::TestWithParam<RowsCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormGpu,
                         ::testing::Values(RowsCase{1, 59}, RowsCase{127, 771}, RowsCase{513, 59}, RowsCase{513, 1024},
                                           RowsCase{130, 3}));

TEST_P(LayerNormGpu, ForwardAndBackwardMatchCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C] = GetParam();
  // A mean of 50 against a spread of 1: a one-pass variance would cancel badly.
  auto in = random_vector<float>(N * C, 1, 49, 51), weight = random_vector<float>(C, 2);
  auto bias = random_vector<float>(C, 3), dout = random_vector<float>(N * C, 4);
  const auto din0 = random_vector<float>(N * C, 5), dw0 = random_vector<float>(C, 6), db0 = random_vector<float>(C, 7);
  std::vector<float> out(static_cast<size_t>(N * C)), mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
  std::vector<float> din = din0, dw = dw0, db = db0;
  Ctx cpu = cpu_ctx();
  const double eps = 1e-5;
  layernorm_forward(cpu, host_tensor(out, {N, C}), host_tensor(mean), host_tensor(rstd), host_tensor(in, {N, C}),
                    host_tensor(weight), host_tensor(bias), eps);
  layernorm_backward(cpu, host_tensor(din, {N, C}), host_tensor(dw), host_tensor(db), host_tensor(dout, {N, C}),
                     host_tensor(in, {N, C}), host_tensor(weight), host_tensor(mean), host_tensor(rstd));

  GpuOps g;
  const Tensor d_in = g.up(in, {N, C}), d_weight = g.up(weight);
  const Tensor d_out = g.output({N, C}), d_mean = g.output({N}), d_rstd = g.output({N});
  const Tensor d_din = g.up(din0, {N, C}), d_dw = g.up(dw0), d_db = g.up(db0);
  layernorm_forward(g.ctx, d_out, d_mean, d_rstd, d_in, d_weight, g.up(bias), eps);
  // The backward gets the CPU's statistics, so it is compared on identical inputs.
  layernorm_backward(g.ctx, d_din, d_dw, d_db, g.up(dout, {N, C}), d_in, d_weight, g.up(mean), g.up(rstd));
  const double bound = nmse_bound(DType::F32);
  expect_close(g.down<float>(d_out), out, bound, "layernorm out");
  expect_close(g.down<float>(d_mean), mean, bound, "mean");
  expect_close(g.down<float>(d_rstd), rstd, bound, "rstd");
  expect_close(g.down<float>(d_din), din, bound, "din");
  expect_close(g.down<float>(d_dw), dw, bound, "dweight");
  expect_close(g.down<float>(d_db), db, bound, "dbias");
  g.expect_guards_intact();
}

// The fused residual + LayerNorm against the CPU, which runs the two ops: the sum bitwise
// (one fp32 add and one rounding on both), the normalization within the dtype's bound; and
// against the two ops on the GPU, bitwise (the same rounding and summation order).
class ResidualLayerNormGpu : public ::testing::TestWithParam<std::tuple<RowsCase, DType>> {};
INSTANTIATE_TEST_SUITE_P(Shapes, ResidualLayerNormGpu,
                         ::testing::Combine(::testing::Values(RowsCase{1, 59}, RowsCase{127, 771},
                                                              RowsCase{513, 1024}, RowsCase{130, 3}),
                                            ::testing::Values(DType::F32, DType::BF16, DType::F16)));

template <typename T> void check_residual_layernorm(int64_t N, int64_t C) {
  const auto rounded = [](std::vector<float> v) {
    for (float& x : v) x = static_cast<float>(T(x));
    return v;
  };
  const auto a = rounded(random_vector<float>(N * C, 1, 40, 60)), b = rounded(random_vector<float>(N * C, 2));
  const auto weight = rounded(random_vector<float>(C, 3)), bias = rounded(random_vector<float>(C, 4));
  std::vector<T> a16(a.begin(), a.end()), b16(b.begin(), b.end()), w16(weight.begin(), weight.end()),
      bias16(bias.begin(), bias.end()), sum(static_cast<size_t>(N * C)), out(static_cast<size_t>(N * C));
  std::vector<float> mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
  Ctx cpu = cpu_ctx();
  const double eps = 1e-5;
  residual_layernorm_forward(cpu, host_tensor(sum, {N, C}), host_tensor(out, {N, C}), host_tensor(mean),
                             host_tensor(rstd), host_tensor(a16, {N, C}), host_tensor(b16, {N, C}),
                             host_tensor(w16), host_tensor(bias16), eps);

  GpuOps g;
  const Tensor d_sum = g.output<T>({N, C}), d_out = g.output<T>({N, C});
  const Tensor d_mean = g.output({N}), d_rstd = g.output({N});
  residual_layernorm_forward(g.ctx, d_sum, d_out, d_mean, d_rstd, g.up(a16, {N, C}), g.up(b16, {N, C}),
                             g.up(w16), g.up(bias16), eps);
  expect_bitwise_equal(g.down<T>(d_sum), sum, "sum");
  const auto as_float = [](const std::vector<T>& v) { return std::vector<float>(v.begin(), v.end()); };
  expect_close(as_float(g.down<T>(d_out)), as_float(out), nmse_bound(dtype_of<T>()), "out");
  expect_close(g.down<float>(d_mean), mean, nmse_bound(DType::F32), "mean");
  expect_close(g.down<float>(d_rstd), rstd, nmse_bound(DType::F32), "rstd");

  const Tensor d_a = g.up(a16, {N, C}), d_b = g.up(b16, {N, C}), d_w = g.up(w16), d_bias = g.up(bias16);
  const Tensor sum2 = g.output<T>({N, C}), out2 = g.output<T>({N, C}), mean2 = g.output({N}),
               rstd2 = g.output({N});
  residual_forward(g.ctx, sum2, d_a, d_b);
  layernorm_forward(g.ctx, out2, mean2, rstd2, sum2, d_w, d_bias, eps);
  expect_bitwise_equal(g.down<T>(d_out), g.down<T>(out2), "out against the two GPU ops");
  expect_bitwise_equal(g.down<float>(d_mean), g.down<float>(mean2), "mean against the two GPU ops");
  expect_bitwise_equal(g.down<float>(d_rstd), g.down<float>(rstd2), "rstd against the two GPU ops");
  g.expect_guards_intact();
}

TEST_P(ResidualLayerNormGpu, MatchesTheCpusResidualThenLayerNorm) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [shape, dtype] = GetParam();
  if (dtype == DType::F32)
    check_residual_layernorm<float>(shape.N, shape.C);
  else if (dtype == DType::BF16)
    check_residual_layernorm<__nv_bfloat16>(shape.N, shape.C);
  else
    check_residual_layernorm<__half>(shape.N, shape.C);
}

// ---- matmul ----------------------------------------------------------------------

struct MatmulCase {
  int64_t N, I, O;
  bool bias;
};
class MatmulGpu : public ::testing::TestWithParam<MatmulCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, MatmulGpu,
                         ::testing::Values(MatmulCase{1, 59, 771, true}, MatmulCase{127, 771, 59, true},
                                           MatmulCase{513, 59, 177, false}, MatmulCase{127, 771, 3084, true},
                                           MatmulCase{513, 3084, 771, true}));

// Runs forward and backward on both backends from the same inputs and compares with `check`.
template <typename Check> void compare_matmul(const MatmulCase& mc, std::vector<float> in, std::vector<float> weight,
                                              std::vector<float> bias, std::vector<float> dout, Check check) {
  const auto [N, I, O, with_bias] = mc;
  const auto din0 = random_vector<float>(N * I, 11), dw0 = random_vector<float>(O * I, 12);
  const auto db0 = random_vector<float>(O, 13);
  std::vector<float> out(static_cast<size_t>(N * O)), din = din0, dw = dw0, db = db0;
  Ctx cpu = cpu_ctx();
  const Tensor cpu_bias = with_bias ? host_tensor(bias) : Tensor{};
  matmul_forward(cpu, host_tensor(out, {N, O}), host_tensor(in, {N, I}), host_tensor(weight, {O, I}), cpu_bias);
  matmul_backward(cpu, host_tensor(din, {N, I}), host_tensor(dw, {O, I}), host_tensor(db), host_tensor(dout, {N, O}),
                  host_tensor(in, {N, I}), host_tensor(weight, {O, I}));

  GpuOps g;
  const Tensor d_in = g.up(in, {N, I}), d_weight = g.up(weight, {O, I}), d_out = g.output({N, O});
  const Tensor d_din = g.up(din0, {N, I}), d_dw = g.up(dw0, {O, I}), d_db = g.up(db0);
  matmul_forward(g.ctx, d_out, d_in, d_weight, with_bias ? g.up(bias) : Tensor{});
  matmul_backward(g.ctx, d_din, d_dw, d_db, g.up(dout, {N, O}), d_in, d_weight);
  check(g.down<float>(d_out), out, "matmul out");
  check(g.down<float>(d_din), din, "din");
  check(g.down<float>(d_dw), dw, "dweight");
  check(g.down<float>(d_db), db, "dbias");
  g.expect_guards_intact();
}

TEST_P(MatmulGpu, ForwardAndBackwardMatchCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, I, O, bias] = GetParam();
  compare_matmul(GetParam(), random_vector<float>(N * I, 1), random_vector<float>(O * I, 2), random_vector<float>(O, 3),
                 random_vector<float>(N * O, 4), [](const auto& gpu, const auto& ref, const char* what) {
                   expect_close(gpu, ref, nmse_bound(DType::F32), what);
                 });
}

// Small integers make every product and partial sum exact in fp32 (cutlass's trick), so
// any summation order gives the same bits: a wrong operand, transpose or leading dimension
// cannot hide inside a tolerance.
std::vector<float> small_integers(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(static_cast<int>(rng() % 7) - 3);
  return v;
}

TEST_P(MatmulGpu, SmallIntegerInputsMatchCpuExactly) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, I, O, bias] = GetParam();
  // The backward accumulates onto random floats, which rounds; compare it only by NMSE.
  compare_matmul(GetParam(), small_integers(N * I, 1), small_integers(O * I, 2), small_integers(O, 3),
                 small_integers(N * O, 4), [](const auto& gpu, const auto& ref, const std::string& what) {
                   if (what == "matmul out")
                     expect_bitwise_equal(gpu, ref, what);
                   else
                     expect_close(gpu, ref, nmse_bound(DType::F32), what);
                 });
}

// ---- rows ------------------------------------------------------------------------

class RowsGpu : public ::testing::TestWithParam<RowsCase> {};
INSTANTIATE_TEST_SUITE_P(Shapes, RowsGpu,
                         ::testing::Values(RowsCase{1, 59}, RowsCase{127, 771}, RowsCase{513, 59}, RowsCase{513, 771}));

TEST_P(RowsGpu, GatherAndScatterAddMatchCpuBitwise) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [N, C] = GetParam();
  const int64_t P = std::max<int64_t>(1, N / 3) + 2;  // more picks than rows when N is 1: repeats
  auto index = random_ids(P, N, 1, static_cast<int32_t>(N / 2));
  auto in = random_vector<float>(N * C, 2), src = random_vector<float>(P * C, 3);
  const auto dst0 = random_vector<float>(N * C, 4);
  std::vector<float> gathered(static_cast<size_t>(P * C)), dst = dst0;
  Ctx cpu = cpu_ctx();
  gather_rows(cpu, host_tensor(gathered, {P, C}), host_tensor(in, {N, C}), host_tensor(index));
  scatter_add_rows(cpu, host_tensor(dst, {N, C}), host_tensor(src, {P, C}), host_tensor(index));

  GpuOps g;
  const Tensor d_index = g.up(index), d_gathered = g.output({P, C}), d_dst = g.up(dst0, {N, C});
  gather_rows(g.ctx, d_gathered, g.up(in, {N, C}), d_index);
  scatter_add_rows(g.ctx, d_dst, g.up(src, {P, C}), d_index);
  expect_bitwise_equal(g.down<float>(d_gathered), gathered, "gather_rows");
  expect_bitwise_equal(g.down<float>(d_dst), dst, "scatter_add_rows");
  g.expect_guards_intact();
}

}  // namespace
}  // namespace masklm
