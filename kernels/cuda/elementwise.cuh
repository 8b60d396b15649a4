// CUDA elementwise ops on n contiguous values of one storage dtype (F32, BF16 or F16; the
// tensors travel as void pointers so host code needs no CUDA headers); same contracts as
// kernels/cpu/elementwise.h (dropout draws the same Philox words, so GPU and CPU drop the
// same elements). 16-bit values are computed in fp32 and rounded once when stored.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"
#include "runtime/philox.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

void gelu_forward(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n);
void gelu_backward(CudaContext& cc, DType dtype, void* din, const void* dout, const void* in, int64_t n);
void residual_forward(CudaContext& cc, DType dtype, void* out, const void* a, const void* b, int64_t n);
void add_inplace(CudaContext& cc, DType dtype, void* dst, const void* src, int64_t n);
void dropout_forward(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n, float p,
                     const RngKey& key);
void dropout_backward(CudaContext& cc, DType dtype, void* din, const void* dout, int64_t n, float p,
                      const RngKey& key);
void scale_inplace(CudaContext& cc, DType dtype, void* x, int64_t n, double s);
void fill_zero(CudaContext& cc, DType dtype, void* x, int64_t n);
// dst = src converted from src_dtype to dst_dtype (each F32, BF16 or F16), rounding as
// from_float does; equal dtypes copy.
void convert(CudaContext& cc, DType dst_dtype, void* dst, DType src_dtype, const void* src,
             int64_t n);

}  // namespace masklm::cuda
