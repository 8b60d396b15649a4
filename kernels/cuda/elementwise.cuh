// CUDA elementwise ops on n contiguous F32 values; same contracts as kernels/cpu/elementwise.h
// (dropout draws the same Philox words, so GPU and CPU drop the same elements).
#pragma once

#include <cstdint>

#include "runtime/philox.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

void gelu_forward(CudaContext& cc, float* out, const float* in, int64_t n);
void gelu_backward(CudaContext& cc, float* din, const float* dout, const float* in, int64_t n);
void residual_forward(CudaContext& cc, float* out, const float* a, const float* b, int64_t n);
void add_inplace(CudaContext& cc, float* dst, const float* src, int64_t n);
void dropout_forward(CudaContext& cc, float* out, const float* in, int64_t n, float p,
                     const RngKey& key);
void dropout_backward(CudaContext& cc, float* din, const float* dout, int64_t n, float p,
                      const RngKey& key);
void scale_inplace(CudaContext& cc, float* x, int64_t n, double s);
void fill_zero(CudaContext& cc, float* x, int64_t n);

}  // namespace masklm::cuda
