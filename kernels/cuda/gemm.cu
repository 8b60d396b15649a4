// cuBLASLt is column-major; a row-major matrix is the column-major view of its transpose.
// So row-major C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T: the
// operands swap places, keep their transpose flags, and m and n swap. cuBLASLt's BIAS
// epilogue adds a vector along the rows of its column-major D, i.e. bias[j] to every row
// of our row-major C, which is exactly a linear layer's bias.
//
// The algorithm for each shape is chosen once by cuBLASLt's heuristic and cached in the
// CudaContext, so the same shape always runs the same algorithm (reproducible results).
// Where the heuristic offers none with the bias epilogue, the bias is copied into every row
// of C and the GEMM adds the product to it (beta 1), so a 16-bit C is still rounded once;
// where it offers none at all, simple_gemm_kernel computes the product.
#include <bit>
#include <mutex>
#include <optional>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/gemm_kernels.cuh"
#include "kernels/cuda/storage.cuh"
#include "runtime/log.h"

namespace masklm::cuda {
namespace {

// ---- launcher ------------------------------------------------------------------------

// The largest power of two (up to 256) that divides the address: cuBLASLt must only pick
// algorithms whose vector loads this alignment allows.
int64_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  return address == 0 ? 256 : std::min<int64_t>(256, int64_t{1} << std::countr_zero(address));
}

// RAII holders so every early exit (an exception from a check) frees the descriptors.
struct MatmulDesc {
  cublasLtMatmulDesc_t desc = nullptr;
  ~MatmulDesc() { (void)cublasLtMatmulDescDestroy(desc); }
};
cudaDataType_t cuda_data_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: MASKLM_FAIL("gemm: cuBLASLt operands are F32, BF16 or F16, got {}", dtype_name(dtype));
  }
}

struct MatrixLayout {
  cublasLtMatrixLayout_t layout = nullptr;
  MatrixLayout(DType dtype, int64_t rows, int64_t cols, int64_t ld) {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, cuda_data_type(dtype), static_cast<uint64_t>(rows),
                                            static_cast<uint64_t>(cols), ld));
  }
  ~MatrixLayout() { (void)cublasLtMatrixLayoutDestroy(layout); }
};
struct Preference {
  cublasLtMatmulPreference_t pref = nullptr;
  ~Preference() { (void)cublasLtMatmulPreferenceDestroy(pref); }
};

// Column-major D (m, n) = op(X) (m, k) op(Y) (k, n) + beta D [+ bias]; returns false when
// cuBLASLt offers no algorithm for it (remembered, so it is asked once per shape).
bool try_lt_matmul(CudaContext& cc, GemmDTypes dtypes, bool trans_x, bool trans_y, int64_t m, int64_t n, int64_t k,
                   float alpha, const void* x, int64_t ldx, const void* y, int64_t ldy, float beta, void* d,
                   int64_t ldd, const void* bias) {
  MatmulDesc op;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&op.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t tx = trans_x ? CUBLAS_OP_T : CUBLAS_OP_N, ty = trans_y ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSA, &tx, sizeof(tx)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSB, &ty, sizeof(ty)));
  if (bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const MatrixLayout lx(dtypes.ab, trans_x ? k : m, trans_x ? m : k, ldx);
  const MatrixLayout ly(dtypes.ab, trans_y ? n : k, trans_y ? k : n, ldy);
  const MatrixLayout ld(dtypes.c, m, n, ldd);

  const int64_t align_x = alignment_of(x), align_y = alignment_of(y), align_d = alignment_of(d);
  const int64_t align_bias = bias ? alignment_of(bias) : 0;
  const GemmShapeKey key{static_cast<int64_t>(dtypes.ab),
                         static_cast<int64_t>(dtypes.c),
                         trans_x,
                         trans_y,
                         m,
                         n,
                         k,
                         ldx,
                         ldy,
                         ldd,
                         bias != nullptr,
                         align_x,
                         align_y,
                         align_d,
                         align_bias};
  auto& cache = cc.gemm_algorithms();
  auto found = cache.find(key);
  if (found == cache.end()) {
    Preference pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.pref));
    const size_t workspace = cc.gemm_workspace_bytes();
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                      sizeof(workspace)));
    const std::pair<cublasLtMatmulPreferenceAttributes_t, int64_t> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_x},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_y},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_d},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_d}};
    for (const auto& [attribute, bytes] : alignments) {
      const auto value = static_cast<uint32_t>(bytes);
      CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.pref, attribute, &value, sizeof(value)));
    }
    // Split-K may add its partial sums in fp32 only: by default the heuristic may also
    // pick schemes that add them in D's type (rounding a 16-bit D once per split, not once
    // as gemm.cuh promises) or in D itself, on top of C.
    const uint32_t reductions =
        CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref.pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reductions, sizeof(reductions)));
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(cc.cublaslt(), op.desc, lx.layout, ly.layout,
                                                                  ld.layout, ld.layout, pref.pref, 1, &result, &count);
    // NOT_SUPPORTED means no algorithm fits; any other failure is an error of its own. A
    // result counts only when its own state says it is usable (cublasLt.h).
    if (status != CUBLAS_STATUS_NOT_SUPPORTED) CUBLAS_CHECK(status);
    const bool none =
        status == CUBLAS_STATUS_NOT_SUPPORTED || count == 0 || result.state != CUBLAS_STATUS_SUCCESS;
    if (none && !bias)
      log_warn(
          "cuBLASLt has no algorithm for a {}x{}x{} GEMM of {} into {} (ld {}, {}, {}; "
          "alignments {}, {}, {} bytes): a simple kernel computes it, slowly if it is large",
          m, n, k, dtype_name(dtypes.ab), dtype_name(dtypes.c), ldx, ldy, ldd, align_x, align_y,
          align_d);
    found = cache.emplace(key, none ? std::nullopt : std::optional(result.algo)).first;
  }
  if (!found->second) return false;
  CUBLAS_CHECK(cublasLtMatmul(cc.cublaslt(), op.desc, &alpha, x, lx.layout, y, ly.layout, &beta, d,
                              ld.layout, d, ld.layout, &*found->second, cc.gemm_workspace(),
                              cc.gemm_workspace_bytes(), cc.stream()));
  return true;
}

template <typename TAB, typename TC>
void launch_simple_gemm(CudaContext& cc, bool trans_a, bool trans_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const void* a, int64_t lda, const void* b,
                        int64_t ldb, float beta, void* c, int64_t ldc) {
  launch_kernel(simple_gemm_kernel<TAB, TC>, grid_stride_blocks(m * n, kThreads), kThreads, 0,
                cc.stream(), trans_a, trans_b, m, n, k, alpha, static_cast<const TAB*>(a), lda,
                static_cast<const TAB*>(b), ldb, beta, static_cast<TC*>(c), ldc);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

// ---- entry point ---------------------------------------------------------------------

void gemm(CudaContext& cc, GemmDTypes dtypes, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const void* a, int64_t lda, const void* b, int64_t ldb, float beta, void* c, int64_t ldc,
          const void* bias) {
  MASKLM_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size ({}, {}, {})", m, n, k);
  MASKLM_CHECK(dtypes.c == dtypes.ab || dtypes.c == DType::F32,
               "gemm: {} operands cannot produce {}", dtype_name(dtypes.ab), dtype_name(dtypes.c));
  MASKLM_CHECK(lda >= (trans_a ? m : k) && ldb >= (trans_b ? k : n) && ldc >= n,
               "gemm: leading dimensions ({}, {}, {}) too small for ({}, {}, {})", lda, ldb, ldc, m, n, k);
  MASKLM_CHECK(!bias || beta == 0.0f,
               "gemm: a bias is added only to a product that overwrites c (beta 0), got beta {}",
               beta);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // An empty product adds nothing: fine for accumulating GEMMs (gradients of an empty batch).
    MASKLM_CHECK(beta == 1.0f && !bias, "gemm: an inner dimension of 0 is only supported when accumulating");
    return;
  }
  // Row-major C (m, n) is column-major C^T (n, m) = op(B)^T (n, k) op(A)^T (k, m).
  if (try_lt_matmul(cc, dtypes, trans_b, trans_a, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, bias)) return;
  if (bias) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      log_warn(
          "cuBLASLt has no bias epilogue for a {}x{}x{} {} GEMM; the bias is copied into the "
          "output first",
          m, n, k, dtype_name(dtypes.c));
    });
    dispatch_storage(dtypes.c, "gemm", [&]<typename T>() {
      launch_kernel(broadcast_bias_kernel<T>, grid_stride_blocks(m * n, kThreads), kThreads, 0,
                    cc.stream(), static_cast<T*>(c), ldc, static_cast<const T*>(bias), m, n);
      CUDA_CHECK_LAUNCH();
    });
    beta = 1.0f;
    if (try_lt_matmul(cc, dtypes, trans_b, trans_a, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc,
                      nullptr))
      return;
  }
  dispatch_storage(dtypes.ab, "gemm", [&]<typename TAB>() {
    if (dtypes.c == dtypes.ab)
      launch_simple_gemm<TAB, TAB>(cc, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                   ldc);
    else
      launch_simple_gemm<TAB, float>(cc, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                     ldc);
  });
}

}  // namespace masklm::cuda
