// Fused (flash-attention style) attention on tensor cores for 16-bit activations, on
// unpadded variable-length sequences: the contract of kernels/ops.h's attention_forward /
// attention_backward (qkv (N, 3C) layout, lse (NH, N), cu_seqlens, Philox dropout
// indexing), with qkv, out, dout and dqkv in BF16 or F16 and lse in F32. Head sizes 32, 64
// and 128; needs sm_80 or newer. Declarations only, so host code compiled without the CUDA
// headers can call them (the 16-bit tensors travel as void pointers with their DType).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/philox.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// Whether the fused kernels have an instance for head size HS.
bool flash_attention_supports_head_size(int64_t HS);
// Whether they run here for head size HS: an instance, and a GPU of sm_80 or newer.
bool flash_attention_applies(CudaContext& cc, int64_t HS);

// out (N, C) and qkv (N, 3C) hold `dtype` (BF16 or F16) values; lse (NH, N) fp32;
// cu_seqlens (B + 1), checked on the device like the fp32 kernel's.
void flash_attention_forward(CudaContext& cc, DType dtype, void* out, float* lse, const void* qkv,
                             const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C, int64_t NH,
                             float dropout_p, const RngKey& key);

// dqkv (N, 3C) += gradient of the forward given dout (N, C): each element is read, added to
// in fp32 and rounded to `dtype` once. dqkv, dout, out, qkv hold `dtype` values.
void flash_attention_backward(CudaContext& cc, DType dtype, void* dqkv, const void* dout,
                              const void* out, const void* qkv, const float* lse,
                              const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                              int64_t NH, float dropout_p, const RngKey& key);

}  // namespace masklm::cuda
