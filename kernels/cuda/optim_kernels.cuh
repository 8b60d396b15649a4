// The kernels of optim.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kSquaresChunk = int64_t{1} << 14;

struct AdamWConstants {
  float beta1, beta2, m_correction, v_correction, lr, decay, eps, grad_scale;
};

// The step-wide constants, computed in double on the host as the CPU computes them.
inline AdamWConstants adamw_constants(double lr, double beta1, double beta2, double eps,
                                      double weight_decay, int64_t step, double grad_scale) {
  const double t = static_cast<double>(step);
  return {static_cast<float>(beta1),
          static_cast<float>(beta2),
          static_cast<float>(1.0 / (1.0 - std::pow(beta1, t))),
          static_cast<float>(1.0 / (1.0 - std::pow(beta2, t))),
          static_cast<float>(lr),
          static_cast<float>(lr * weight_decay),
          static_cast<float>(eps),
          static_cast<float>(grad_scale)};
}

// CopyT: the storage type of the compute copy written beside the fp32 master weights, or
// void for none.
template <typename CopyT> __global__ void adamw_kernel(float* params, const float* grads, float* m,
                                                       float* v, CopyT* copy, AdamWConstants k,
                                                       int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const float g = grads[i] * k.grad_scale;
    const float mi = k.beta1 * m[i] + (1.0f - k.beta1) * g;
    const float vi = k.beta2 * v[i] + (1.0f - k.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float update = (mi * k.m_correction) / (sqrtf(vi * k.v_correction) + k.eps);
    // Decoupled decay uses the parameter before this step's update.
    const float p = params[i] - (k.lr * update + k.decay * params[i]);
    params[i] = p;
    if constexpr (!std::is_void_v<CopyT>) copy[i] = from_float<CopyT>(p);
  }
}

// One block per chunk: partials[chunk] = sum of squares over the chunk, in double.
__global__ void chunk_squares_kernel(double* partials, const float* x, int64_t n) {
  __shared__ double shared[WARP_SIZE];
  const int64_t begin = blockIdx.x * kSquaresChunk, end = min(n, begin + kSquaresChunk);
  double sum = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    sum += static_cast<double>(x[i]) * x[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// One block: total[0] = sum of partials[0 .. chunks).
__global__ void sum_partials_kernel(double* total, const double* partials, int64_t chunks) {
  __shared__ double shared[WARP_SIZE];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < chunks; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *total = sum;
}

}  // namespace
}  // namespace masklm::cuda
