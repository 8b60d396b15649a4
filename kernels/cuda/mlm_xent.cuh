// CUDA sparse MLM head cross-entropy; same contract as kernels/cpu/mlm_xent.h. Labels are
// checked on the device (a bad one raises the CudaContext's error flag). h, emb, bias and
// dh hold `dtype` values (F32, BF16 or F16; the logits chunk too); losses, lse, demb and
// dbias are fp32.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// losses, lse (P); correct (P) may be null; h (P, C); emb (V, C); bias (V) may be null.
void mlm_xent_forward(CudaContext& cc, DType dtype, float* losses, float* lse, int32_t* correct, const void* h,
                      const void* emb, const void* bias, const int32_t* labels, int64_t P, int64_t C, int64_t V,
                      int64_t chunk_size);

// Accumulates (+=) the gradients of sum_p loss_scale * losses[p] into each non-null
// gradient: dh (P, C), demb (V, C), dbias (V).
void mlm_xent_backward(CudaContext& cc, DType dtype, void* dh, float* demb, float* dbias, const void* h,
                       const void* emb, const void* bias, const int32_t* labels, const float* lse, int64_t P,
                       int64_t C, int64_t V, float loss_scale, int64_t chunk_size);

}  // namespace masklm::cuda
