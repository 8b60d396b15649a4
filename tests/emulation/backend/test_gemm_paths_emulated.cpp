// kernels/cuda/gemm.cu's paths that only the emulation's cuBLASLt can force
// (tests/emulation/include/cublasLt.h; emulated build only): a refused BIAS epilogue falls
// back to adding the product to the bias copied into c, with the same result (a 16-bit c
// rounded once) and is asked about once per shape; a shape with no algorithm at all is
// computed by the simple kernel (transposes, beta, 16-bit operands); and an algorithm is
// never run on pointers less aligned than those it was chosen for.
#include <gtest/gtest.h>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "kernels/cuda/gemm.cuh"
#include "runtime/cuda_context.h"
#include "runtime/half.h"

namespace masklm::cuda {
namespace {

using testing::random_vector;

// Host values on the emulated device, freed at the end of the scope.
struct DeviceFloats {
  float* data = nullptr;
  explicit DeviceFloats(const std::vector<float>& host) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data), host.size() * sizeof(float)),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  ~DeviceFloats() { (void)cudaFree(data); }
  std::vector<float> to_host(CudaContext& cc, size_t n) const {
    std::vector<float> host(n);
    EXPECT_EQ(cudaStreamSynchronize(cc.stream()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(host.data(), data, n * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return host;
  }
};

// Sets one of the emulated cuBLASLt's refusals (the BIAS epilogue, or every algorithm), in
// the given way, for one test.
struct Refuse {
  emulator::Refusal& hook;
  Refuse(emulator::Refusal& refusal, emulator::Refusal how) : hook(refusal) { hook = how; }
  ~Refuse() { hook = emulator::Refusal::NONE; }
};

// A small linear layer, row-major c (m, n) = a (m, k) b (k, n) + bias, and its value in double.
struct Problem {
  static constexpr int64_t m = 5, n = 7, k = 3;
  std::vector<float> a, b, bias;
  std::vector<double> expected;
  Problem() {
    for (int64_t i = 0; i < m * k; ++i) a.push_back(0.25f * static_cast<float>(i % 7) - 0.5f);
    for (int64_t i = 0; i < k * n; ++i) b.push_back(0.125f * static_cast<float>(i % 5) - 0.25f);
    for (int64_t j = 0; j < n; ++j) bias.push_back(1.0f + static_cast<float>(j));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = bias[j];
        for (int64_t p = 0; p < k; ++p) sum += static_cast<double>(a[i * k + p]) * b[p * n + j];
        expected.push_back(sum);
      }
  }
  // Runs the GEMM on the context and returns c; the operand a starts `a_offset` floats in.
  std::vector<float> run(CudaContext& cc, int64_t a_offset = 0) const {
    std::vector<float> a_shifted(static_cast<size_t>(a_offset), 0.0f);
    a_shifted.insert(a_shifted.end(), a.begin(), a.end());
    const DeviceFloats da(a_shifted), db(b), dbias(bias), dc(std::vector<float>(m * n, NAN));
    gemm(cc, false, false, m, n, k, 1.0f, da.data + a_offset, k, db.data, n, 0.0f, dc.data, n,
         dbias.data);
    return dc.to_host(cc, m * n);
  }
  void expect_matches(const std::vector<float>& c) const {
    ASSERT_EQ(c.size(), expected.size());
    for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], expected[i], 1e-5) << "element " << i;
  }
};

// cuBLASLt refusing the BIAS epilogue (the product is added to the bias copied into c), or
// every algorithm (the simple kernel adds it), by status or by result state:
// the same result; asked with the epilogue, then without it, and the refusals cached.
class RefusedAlgorithm : public ::testing::TestWithParam<std::tuple<bool, emulator::Refusal>> {};

TEST_P(RefusedAlgorithm, FallsBackToTheSameResultAndIsRemembered) {
  const auto [every, how] = GetParam();
  const Refuse refuse(
      every ? emulator::cublaslt.refuse_every_algorithm : emulator::cublaslt.refuse_bias_epilogue,
      how);
  CudaContext cc;
  const Problem problem;
  const int64_t calls_before = emulator::cublaslt.heuristic_calls;
  problem.expect_matches(problem.run(cc));
  EXPECT_EQ(emulator::cublaslt.heuristic_calls - calls_before, 2);
  problem.expect_matches(problem.run(cc));
  EXPECT_EQ(emulator::cublaslt.heuristic_calls - calls_before, 2) << "the refusal was not cached";
}

INSTANTIATE_TEST_SUITE_P(
    GemmPathsEmulated, RefusedAlgorithm,
    ::testing::Combine(::testing::Bool(), ::testing::Values(emulator::Refusal::STATUS,
                                                            emulator::Refusal::RESULT_STATE)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) ? "EveryAlgorithm" : "BiasEpilogue") +
             (std::get<1>(info.param) == emulator::Refusal::STATUS ? "ByStatus" : "ByResultState");
    });

// Row-major values (rows, cols) with leading dimension ld, stored as `dtype` on the emulated
// device; `values()` gives back what the storage holds, in double.
struct DeviceMatrix {
  DType dtype;
  int64_t rows, cols, ld;
  std::vector<uint16_t> bits;  // 16-bit storage
  std::vector<float> floats;   // F32 storage
  void* data = nullptr;

  // Values from `seed` (multiples of 1/8 in [-1, 1)), or all `fill` when it is NaN.
  DeviceMatrix(DType dtype_, int64_t rows_, int64_t cols_, int64_t ld_, uint32_t seed,
               float fill = 0.0f)
      : DeviceMatrix(dtype_, rows_, cols_, ld_, patterned(rows_ * ld_, seed, fill)) {}
  // `values` (rows * ld of them) rounded to `dtype`.
  DeviceMatrix(DType dtype_, int64_t rows_, int64_t cols_, int64_t ld_,
               const std::vector<float>& values)
      : dtype(dtype_), rows(rows_), cols(cols_), ld(ld_) {
    for (const float v : values) {
      if (dtype == DType::F32)
        floats.push_back(v);
      else
        bits.push_back(float_to_16bit(dtype, v));
    }
    const size_t bytes = static_cast<size_t>(rows * ld) * dtype_size(dtype);
    EXPECT_EQ(cudaMalloc(&data, bytes), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data, host(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceMatrix() { (void)cudaFree(data); }
  static std::vector<float> patterned(int64_t count, uint32_t seed, float fill) {
    std::vector<float> values;
    for (int64_t i = 0; i < count; ++i)
      values.push_back(std::isnan(fill) ? fill
                                        : 0.125f * static_cast<float>((i * 7 + seed) % 17) - 1.0f);
    return values;
  }
  void* host() { return dtype == DType::F32 ? static_cast<void*>(floats.data()) : bits.data(); }
  double at(int64_t i, int64_t j) const {
    const size_t e = static_cast<size_t>(i * ld + j);
    return dtype == DType::F32 ? floats[e] : float_from_16bit(dtype, bits[e]);
  }
  void pull(CudaContext& cc) {
    EXPECT_EQ(cudaStreamSynchronize(cc.stream()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(host(), data, static_cast<size_t>(rows * ld) * dtype_size(dtype),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
  }
};

// Every transpose combination, beta 0.5 reading c and beta 0 not reading it (c holds NaN),
// leading dimensions wider than the rows, and 16-bit operands into F32 (a gradient) or into
// their own dtype: the simple kernel against double sums of the stored operands. Its fp32
// sums of 11 products err by about 1e-6 relative; a 16-bit c also rounds once (2^-8
// relative for bf16, 2^-11 for fp16).
TEST(GemmPathsEmulated, TheSimpleKernelHandlesTransposesBetaAndSixteenBitOperands) {
  const Refuse refuse(emulator::cublaslt.refuse_every_algorithm, emulator::Refusal::STATUS);
  CudaContext cc;
  constexpr int64_t m = 3, n = 5, k = 11;
  for (const GemmDTypes dtypes :
       {GemmDTypes{DType::F32, DType::F32}, GemmDTypes{DType::BF16, DType::F32},
        GemmDTypes{DType::BF16, DType::BF16}, GemmDTypes{DType::F16, DType::F32},
        GemmDTypes{DType::F16, DType::F16}})
    for (const float beta : {0.5f, 0.0f})
      for (const bool trans_a : {false, true})
        for (const bool trans_b : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(dtypes.ab)) + " into " +
                       std::string(dtype_name(dtypes.c)) + ", beta " + std::to_string(beta) +
                       (trans_a ? ", a^T" : "") + (trans_b ? ", b^T" : ""));
          DeviceMatrix a(dtypes.ab, trans_a ? k : m, trans_a ? m : k, (trans_a ? m : k) + 2, 1);
          DeviceMatrix b(dtypes.ab, trans_b ? n : k, trans_b ? k : n, (trans_b ? k : n) + 1, 2);
          DeviceMatrix c(dtypes.c, m, n, n + 3, 3, beta == 0.0f ? NAN : 0.0f);
          std::vector<double> expected;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double sum = 0;
              for (int64_t p = 0; p < k; ++p)
                sum += (trans_a ? a.at(p, i) : a.at(i, p)) * (trans_b ? b.at(j, p) : b.at(p, j));
              expected.push_back(2.0 * sum + (beta == 0.0f ? 0.0 : beta * c.at(i, j)));
            }
          gemm(cc, dtypes, trans_a, trans_b, m, n, k, 2.0f, a.data, a.ld, b.data, b.ld, beta,
               c.data, c.ld);
          c.pull(cc);
          const double tolerance = dtypes.c == DType::F32    ? 1e-5
                                   : dtypes.c == DType::BF16 ? 1.0 / 128
                                                             : 1.0 / 1024;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              const double want = expected[static_cast<size_t>(i * n + j)];
              EXPECT_NEAR(c.at(i, j), want, tolerance * std::max(1.0, std::abs(want)))
                  << "c[" << i << ", " << j << "]";
            }
        }
}

// Adding the product to the bias copied into a 16-bit c rounds once, as the epilogue does:
// the same bits (the emulated cuBLASLt sums alike on both paths), where adding the bias
// after rounding the product would round twice (random operands: their sums need more bits
// than bf16's 8 or fp16's 11).
TEST(GemmPathsEmulated, ARefusedBiasEpilogueStillRoundsSixteenBitResultsOnce) {
  constexpr int64_t m = 9, n = 13, k = 40;
  for (const DType dtype : {DType::BF16, DType::F16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const DeviceMatrix a(dtype, m, k, k, random_vector<float>(m * k, 1));
    const DeviceMatrix b(dtype, k, n, n, random_vector<float>(k * n, 2));
    const DeviceMatrix bias(dtype, 1, n, n, random_vector<float>(n, 3));
    const auto gemm_with_bias = [&](emulator::Refusal how) {
      const Refuse refuse(emulator::cublaslt.refuse_bias_epilogue, how);
      CudaContext cc;  // its own algorithm cache
      DeviceMatrix c(dtype, m, n, n, 0, NAN);
      gemm(cc, {dtype, dtype}, false, false, m, n, k, 1.0f, a.data, a.ld, b.data, b.ld, 0.0f,
           c.data, c.ld, bias.data);
      c.pull(cc);
      return c.bits;
    };
    EXPECT_EQ(gemm_with_bias(emulator::Refusal::STATUS), gemm_with_bias(emulator::Refusal::NONE));
  }
}

TEST(GemmPathsEmulated, ABiasNeedsBetaZero) {
  CudaContext cc;
  const Problem problem;
  const DeviceFloats a(problem.a), b(problem.b), bias(problem.bias),
      c(std::vector<float>(Problem::m * Problem::n));
  testing::expect_error(
      [&] {
        gemm(cc, false, false, Problem::m, Problem::n, Problem::k, 1.0f, a.data, Problem::k, b.data,
             Problem::n, 1.0f, c.data, Problem::n, bias.data);
      },
      {"gemm", "bias", "beta 0"});
}

TEST(GemmPathsEmulated, TheBiasEpilogueGivesTheSameResult) {
  CudaContext cc;
  const Problem problem;
  const int64_t calls_before = emulator::cublaslt.heuristic_calls;
  problem.expect_matches(problem.run(cc));
  EXPECT_EQ(emulator::cublaslt.heuristic_calls - calls_before, 1);
}

TEST(GemmPathsEmulated, LessAlignedOperandsGetAnAlgorithmOfTheirOwn) {
  CudaContext cc;
  const Problem problem;
  problem.expect_matches(problem.run(cc));
  const int64_t calls_before = emulator::cublaslt.heuristic_calls;
  // a one float in: 4-byte aligned instead of 256. Reusing the first algorithm would fail.
  problem.expect_matches(problem.run(cc, 1));
  EXPECT_EQ(emulator::cublaslt.heuristic_calls - calls_before, 1);
}

TEST(GemmPathsEmulated, TheStandInRefusesPointersLessAlignedThanItsAlgorithm) {
  // What the test above relies on: an algorithm chosen for 16-byte operands refuses a
  // 4-byte aligned one.
  cublasLtHandle_t handle;
  ASSERT_EQ(cublasLtCreate(&handle), CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulDesc_t desc;
  ASSERT_EQ(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), CUBLAS_STATUS_SUCCESS);
  cublasLtMatrixLayout_t layout;
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&layout, CUDA_R_32F, 4, 4, 4), CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulPreference_t pref;
  ASSERT_EQ(cublasLtMatmulPreferenceCreate(&pref), CUBLAS_STATUS_SUCCESS);
  const uint32_t sixteen = 16;
  for (auto attribute :
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    ASSERT_EQ(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &sixteen, sizeof sixteen),
              CUBLAS_STATUS_SUCCESS);
  // Attributes have their types: a 64-bit alignment is refused.
  const uint64_t wide = 16;
  EXPECT_EQ(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                 &wide, sizeof wide),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  ASSERT_EQ(cublasLtMatmulAlgoGetHeuristic(handle, desc, layout, layout, layout, layout, pref, 1,
                                           &result, &count),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(count, 1);
  const DeviceFloats x(std::vector<float>(20, 1.0f)), y(std::vector<float>(16, 1.0f));
  const float one = 1.0f, zero = 0.0f;
  CudaContext cc;
  EXPECT_EQ(cublasLtMatmul(handle, desc, &one, x.data, layout, x.data, layout, &zero, y.data,
                           layout, y.data, layout, &result.algo, nullptr, 0, cc.stream()),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasLtMatmul(handle, desc, &one, x.data + 1, layout, x.data, layout, &zero, y.data,
                           layout, y.data, layout, &result.algo, nullptr, 0, cc.stream()),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cudaStreamSynchronize(cc.stream()), cudaSuccess);
  (void)cublasLtMatmulPreferenceDestroy(pref);
  (void)cublasLtMatrixLayoutDestroy(layout);
  (void)cublasLtMatmulDescDestroy(desc);
  (void)cublasLtDestroy(handle);
}

}  // namespace
}  // namespace masklm::cuda
