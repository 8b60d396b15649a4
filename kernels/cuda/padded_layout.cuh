// Moving rows between masklm's unpadded layout and the padded one that libraries taking
// batches of equal-length sequences expect (cuDNN's SDPA, kernels/cuda/cudnn_attention.cpp).
// Unpadded (N, W): sequence b owns rows [cu_seqlens[b], cu_seqlens[b+1]). Padded (B, S, W):
// sequence b owns rows [b S, b S + len_b), len_b <= S, and the rows after it are zero.
// Declarations only (no CUDA types), so host code compiled without nvcc can call them;
// every function launches on cc's stream.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// padded (B, S, W) = the rows of src (N, W), zeros past each sequence's end.
void pad_rows(CudaContext& cc, DType dtype, void* padded, const void* src,
              const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W);

// dst (N, W) = the rows of padded (B, S, W) that hold tokens; with `accumulate`, dst += them
// (fp32 add, one rounding per element).
void unpad_rows(CudaContext& cc, DType dtype, void* dst, const void* padded,
                const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W, bool accumulate);

// Per-(query, head) statistics: lse (NH, N) in ops.h's order <-> stats (B, NH, S) padded.
// lse_to_padded writes zeros past each sequence's end.
void lse_to_padded(CudaContext& cc, float* stats, const float* lse, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N);
void padded_to_lse(CudaContext& cc, float* lse, const float* stats, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N);

}  // namespace masklm::cuda
