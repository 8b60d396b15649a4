// CUDA optimizer and flat-buffer reductions; same contracts as kernels/cpu/adamw.h and
// cpu::sum_squares.
#pragma once

#include <cstdint>

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// One AdamW step over n values (see cpu::adamw_update for the formula).
void adamw_update(CudaContext& cc, float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step, double grad_scale);

// sum of x[i]^2 accumulated in double, bitwise reproducible on every GPU; synchronizes
// the stream to return it.
double sum_squares(CudaContext& cc, const float* x, int64_t n);

}  // namespace masklm::cuda
