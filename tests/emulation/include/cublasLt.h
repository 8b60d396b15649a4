// The emulation's cuBLASLt (cuda_runtime.h says why): the matmul kernels/cuda/gemm.cu
// asks for, column-major D = alpha op(A) op(B) + beta C [+ bias], with the checks cuBLASLt
// makes on the layouts (a wrong size, transpose or leading dimension fails here as it
// would on a GPU). Operands are widened to fp32 and multiplied by OpenBLAS's sgemm, which
// accumulates in fp32 like CUBLAS_COMPUTE_32F; D is rounded to its type. The BIAS
// epilogue's vector has D's type and runs along D's rows. The heuristic offers an algorithm
// that needs exactly the alignments it was told (the preferences, and the bias pointer's),
// and cublasLtMatmul refuses pointers less aligned than that, as the hardware's vector
// loads would: an algorithm cached for one alignment and reused for a smaller one fails
// here. Tests may make the heuristic refuse the BIAS epilogue, as cuBLASLt may for some
// shapes, and count its calls (emulator::cublaslt below). Unless the preferences rule it out,
// the algorithm splits K in two and adds the halves in D's type, as cuBLASLt's split-K may
// (CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE, INPLACE) for a large K: the emulation does for any
// K of 2 or more, so that a 16-bit D rounded twice shows in the tests.
#pragma once

#include <cblas.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68 };
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum cublasLtEpilogue_t { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4 };
enum cublasLtMatmulDescAttributes_t {
  CUBLASLT_MATMUL_DESC_TRANSA = 3,
  CUBLASLT_MATMUL_DESC_TRANSB = 4,
  CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
  CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
};
enum cublasLtMatmulPreferenceAttributes_t {
  CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
  CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK = 3,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
  CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
};
enum cublasLtReductionScheme_t {
  CUBLASLT_REDUCTION_SCHEME_NONE = 0,
  CUBLASLT_REDUCTION_SCHEME_INPLACE = 1,
  CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE = 2,
  CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE = 4,
  CUBLASLT_REDUCTION_SCHEME_MASK = 0x7,
};

struct cublasLtContext {};
using cublasLtHandle_t = cublasLtContext*;
struct cublasLtMatmulDescOpaque_t {
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
};
using cublasLtMatmulDesc_t = cublasLtMatmulDescOpaque_t*;
struct cublasLtMatrixLayoutOpaque_t {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
using cublasLtMatrixLayout_t = cublasLtMatrixLayoutOpaque_t*;
struct cublasLtMatmulPreferenceOpaque_t {
  uint64_t max_workspace = 0;
  uint32_t min_alignment[4] = {256, 256, 256, 256};  // A, B, C, D in bytes (cuBLASLt's default)
  uint32_t reduction_schemes = CUBLASLT_REDUCTION_SCHEME_MASK;  // cuBLASLt's default: all
};
using cublasLtMatmulPreference_t = cublasLtMatmulPreferenceOpaque_t*;
struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

namespace emulator {

// Test hooks: how the heuristic refuses the BIAS epilogue, and every algorithm (not at all,
// with the status NOT_SUPPORTED, or with a result whose state is NOT_SUPPORTED, both of which
// cublasLt.h allows), and the count of its calls.
enum class Refusal { NONE, STATUS, RESULT_STATE };
struct CublasLtHooks {
  Refusal refuse_bias_epilogue = Refusal::NONE;
  Refusal refuse_every_algorithm = Refusal::NONE;
  int64_t heuristic_calls = 0;
};
inline CublasLtHooks cublaslt;

// The heuristic's algorithm, in cublasLtMatmulAlgo_t::data: the alignment it needs of A,
// B, C, D and the bias, in bytes, and whether it adds split-K halves in D's type.
enum AlgoData { kAlignA, kAlignB, kAlignC, kAlignD, kAlignBias, kSplitInOutputType };

// The largest power of two, up to 256, dividing the address (256 for null).
inline uint64_t pointer_alignment(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  uint64_t alignment = 1;
  while (alignment < 256 && address % (2 * alignment) == 0) alignment *= 2;
  return address == 0 ? 256 : alignment;
}

// Sets a descriptor's attribute from `bytes` bytes at `value`, which must be its size.
template <typename Field> cublasStatus_t set_attribute(Field& field, const void* value, size_t bytes) {
  if (bytes != sizeof field) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&field, value, bytes);
  return CUBLAS_STATUS_SUCCESS;
}

// Element (i, j) of a column-major matrix of `type` values, widened to float.
inline float load_element(cudaDataType_t type, const void* base, int64_t index) {
  switch (type) {
    case CUDA_R_32F: return static_cast<const float*>(base)[index];
    case CUDA_R_16BF: return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[index]);
    case CUDA_R_16F: return __half2float(static_cast<const __half*>(base)[index]);
  }
  return 0;
}
inline void store_element(cudaDataType_t type, void* base, int64_t index, float value) {
  switch (type) {
    case CUDA_R_32F: static_cast<float*>(base)[index] = value; return;
    case CUDA_R_16BF: static_cast<__nv_bfloat16*>(base)[index] = __float2bfloat16_rn(value); return;
    case CUDA_R_16F: static_cast<__half*>(base)[index] = __float2half_rn(value); return;
  }
}
// `value` rounded to `type`, widened back.
inline float rounded_to(cudaDataType_t type, float value) {
  unsigned char element[4];
  store_element(type, element, 0, value);
  return load_element(type, element, 0);
}

// op(X) of a layout as a dense column-major fp32 (rows, cols) matrix.
inline std::vector<float> widen_operand(const cublasLtMatrixLayoutOpaque_t& layout, const void* x,
                                        cublasOperation_t op) {
  const auto r = static_cast<int64_t>(layout.rows), c = static_cast<int64_t>(layout.cols);
  const int64_t rows = op == CUBLAS_OP_N ? r : c, cols = op == CUBLAS_OP_N ? c : r;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t j = 0; j < c; ++j)
    for (int64_t i = 0; i < r; ++i) {
      const float v = load_element(layout.type, x, i + j * layout.ld);
      out[static_cast<size_t>(op == CUBLAS_OP_N ? i + j * rows : j + i * rows)] = v;
    }
  return out;
}

}  // namespace emulator

inline const char* cublasLtGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS (emulated)";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE (emulated)";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED (emulated)";
  }
  return "unknown cuBLAS status (emulated)";
}

inline cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
  *h = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}

inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute,
                                               cudaDataType_t scale) {
  if (compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  *d = new cublasLtMatmulDescOpaque_t;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                                     cublasLtMatmulDescAttributes_t attr,
                                                     const void* value, size_t bytes) {
  const auto set = [&](auto& field) { return emulator::set_attribute(field, value, bytes); };
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return set(d->trans_a);
    case CUBLASLT_MATMUL_DESC_TRANSB: return set(d->trans_b);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return set(d->epilogue);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return set(d->bias);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType_t type,
                                                 uint64_t rows, uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(rows) || ld < 1) return CUBLAS_STATUS_INVALID_VALUE;
  *l = new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}

inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = new cublasLtMatmulPreferenceOpaque_t;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const void* value,
    size_t bytes) {
  // Each attribute has its own type (uint64 for the workspace, uint32 for alignments).
  const auto set = [&](auto& field) { return emulator::set_attribute(field, value, bytes); };
  switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return set(p->max_workspace);
    case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK: return set(p->reduction_schemes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return set(p->min_alignment[0]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return set(p->min_alignment[1]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return set(p->min_alignment[2]);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return set(p->min_alignment[3]);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatmulPreference_t pref, int requested,
                                                     cublasLtMatmulHeuristicResult_t* results,
                                                     int* count) {
  ++emulator::cublaslt.heuristic_calls;
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  *count = 0;
  using emulator::Refusal;
  const Refusal refusal = emulator::cublaslt.refuse_every_algorithm != Refusal::NONE
                              ? emulator::cublaslt.refuse_every_algorithm
                          : desc->epilogue == CUBLASLT_EPILOGUE_BIAS
                              ? emulator::cublaslt.refuse_bias_epilogue
                              : Refusal::NONE;
  if (refusal == Refusal::STATUS) return CUBLAS_STATUS_NOT_SUPPORTED;
  results[0] = {};
  if (refusal == Refusal::RESULT_STATE) results[0].state = CUBLAS_STATUS_NOT_SUPPORTED;
  for (int i = 0; i < 4; ++i) results[0].algo.data[i] = pref->min_alignment[i];
  results[0].algo.data[emulator::kAlignBias] = emulator::pointer_alignment(desc->bias);
  results[0].algo.data[emulator::kSplitInOutputType] =
      (pref->reduction_schemes &
       (CUBLASLT_REDUCTION_SCHEME_INPLACE | CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE)) != 0;
  *count = 1;
  return CUBLAS_STATUS_SUCCESS;
}

// Stream work, like a kernel: the descriptors and alpha, beta are read now (the caller may
// reuse them), the matrices when the stream runs it.
inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t desc, const void* alpha,
                                     const void* a, cublasLtMatrixLayout_t la, const void* b,
                                     cublasLtMatrixLayout_t lb, const void* beta, const void* c,
                                     cublasLtMatrixLayout_t lc, void* d, cublasLtMatrixLayout_t ld,
                                     const cublasLtMatmulAlgo_t* algo, void*, size_t,
                                     cudaStream_t stream) {
  using emulator::pointer_alignment;
  const bool aligned = pointer_alignment(a) >= algo->data[emulator::kAlignA] &&
                       pointer_alignment(b) >= algo->data[emulator::kAlignB] &&
                       pointer_alignment(c) >= algo->data[emulator::kAlignC] &&
                       pointer_alignment(d) >= algo->data[emulator::kAlignD] &&
                       pointer_alignment(desc->bias) >= algo->data[emulator::kAlignBias];
  if (!aligned) return CUBLAS_STATUS_NOT_SUPPORTED;
  const bool ta = desc->trans_a == CUBLAS_OP_T, tb = desc->trans_b == CUBLAS_OP_T;
  const auto m = static_cast<int64_t>(ld->rows), n = static_cast<int64_t>(ld->cols);
  const auto k = static_cast<int64_t>(ta ? la->rows : la->cols);
  const bool shapes_match = static_cast<int64_t>(ta ? la->cols : la->rows) == m &&
                            static_cast<int64_t>(tb ? lb->cols : lb->rows) == k &&
                            static_cast<int64_t>(tb ? lb->rows : lb->cols) == n &&
                            lc->rows == ld->rows && lc->cols == ld->cols && la->type == lb->type &&
                            lc->type == ld->type;
  if (!shapes_match) return CUBLAS_STATUS_INVALID_VALUE;
  const float alpha_v = *static_cast<const float*>(alpha),
              beta_v = *static_cast<const float*>(beta);
  // Split-K in D's type: the first half of K goes with C and the bias, the second is
  // rounded to D's type and added in it.
  const int64_t k_first = algo->data[emulator::kSplitInOutputType] && k >= 2 ? k / 2 : k;
  emulator::streams.enqueue(
      stream, [=, dd = *desc, a_layout = *la, b_layout = *lb, c_layout = *lc, d_layout = *ld] {
        const auto access = emulator::device_access();
        const std::vector<float> opa = emulator::widen_operand(a_layout, a, dd.trans_a);
        const std::vector<float> opb = emulator::widen_operand(b_layout, b, dd.trans_b);
        // The product over K's [k0, k1), column-major (m, n).
        const auto product = [&](int64_t k0, int64_t k1) {
          std::vector<float> out(static_cast<size_t>(m * n));
          cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m),
                      static_cast<int>(n), static_cast<int>(k1 - k0), 1.0f, opa.data() + k0 * m,
                      static_cast<int>(m), opb.data() + k0, static_cast<int>(k), 0.0f, out.data(),
                      static_cast<int>(m));
          return out;
        };
        const std::vector<float> first = product(0, k_first);
        const std::vector<float> second = k_first < k ? product(k_first, k) : std::vector<float>{};
        const bool with_bias = dd.epilogue == CUBLASLT_EPILOGUE_BIAS;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < m; ++i) {
            const auto at = static_cast<size_t>(i + j * m);
            float v = alpha_v * first[at];
            // As in BLAS, C is not read when beta is 0 (it may hold NaN).
            if (beta_v != 0.0f)
              v += beta_v * emulator::load_element(c_layout.type, c, i + j * c_layout.ld);
            if (with_bias) v += emulator::load_element(d_layout.type, dd.bias, i);
            if (!second.empty())
              v = emulator::rounded_to(d_layout.type, v) +
                  emulator::rounded_to(d_layout.type, alpha_v * second[at]);
            emulator::store_element(d_layout.type, d, i + j * d_layout.ld, v);
          }
      });
  return CUBLAS_STATUS_SUCCESS;
}
