// cuDNN's fused attention (SDPA through cudnn_frontend's graph API) behind the contract of
// kernels/ops.h's attention_forward / attention_backward, for BF16/F16 tensors on sm_80 and
// newer (train.attention cudnn). A baseline to hold the fused kernel against, and a choice
// for head sizes that kernel lacks.
//
// How it differs from the fused kernel:
//  - cuDNN takes padded batches: qkv (and out, dout) are copied into (B', S, ...) buffers,
//    B' the non-empty sequences and S the longest rounded up to 64, and the results copied
//    back (kernels/cuda/padded_layout.cuh); padding is masked by sequence lengths.
//  - S is needed on the host to pick the graph, so each call reads cu_seqlens back (one
//    small synchronous copy) and checks it there.
//  - Attention dropout uses cuDNN's own Philox stream, seeded from the RngKey: reproducible
//    for the same key, but not the mask the fused and reference kernels draw.
//  - One graph per (direction, dtype, B', S, heads, head size, dropout), built on first use
//    (and logged) and kept in the CudaContext; the backward uses cuDNN's deterministic
//    algorithm, which on Hopper adds a workspace of about B' NH S^2 2 bytes to the scratch.
//  - sm_80 or newer (checked); head sizes that are multiples of 8 (others refused here,
//    cuDNN's own limits beyond that).
// Declarations only, so host code without the CUDA headers can call them. Built with
// MASKLM_WITH_CUDNN (CMake's MASKLM_CUDNN).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/philox.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out (N, C) and qkv (N, 3C) hold `dtype` (BF16 or F16) values; lse (NH, N) fp32.
void cudnn_attention_forward(CudaContext& cc, DType dtype, void* out, float* lse, const void* qkv,
                             const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                             int64_t NH, float dropout_p, const RngKey& key);

// dqkv (N, 3C) += the gradient of the forward given dout (N, C): cuDNN rounds the gradient
// to `dtype`, the add is in fp32 and rounds again.
void cudnn_attention_backward(CudaContext& cc, DType dtype, void* dqkv, const void* dout,
                              const void* out, const void* qkv, const float* lse,
                              const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                              int64_t NH, float dropout_p, const RngKey& key);

}  // namespace masklm::cuda
