// CUDA optimizer and flat-buffer reductions; same contracts as kernels/cpu/adamw.h and
// cpu::sum_squares.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// One AdamW step over n fp32 values (see cpu::adamw_update for the formula). When copy is
// not null it receives the updated params rounded to copy_dtype (the compute copy of the
// weights, BF16 or F16), written by the same kernel.
void adamw_update(CudaContext& cc, float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step, double grad_scale,
                  DType copy_dtype, void* copy);

// sum of x[i]^2 accumulated in double, bitwise reproducible on every GPU; synchronizes
// the stream to return it.
double sum_squares(CudaContext& cc, const float* x, int64_t n);

}  // namespace masklm::cuda
