// AdamW is one thread per value with the step-wide constants computed on the host in
// double and the per-value math in fp32, exactly like the CPU; with a compute copy it also
// stores each updated fp32 master weight rounded to the copy's 16-bit type. sum_squares reduces in two
// stages over fixed chunks of kSquaresChunk values (the partition depends only on n), each
// in a fixed tree order, so the result is the same bits on every GPU and every run.
#include <cmath>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/optim.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kSquaresChunk = int64_t{1} << 14;

// ---- kernels -------------------------------------------------------------------------

struct AdamWConstants {
  float beta1, beta2, m_correction, v_correction, lr, decay, eps, grad_scale;
};

// CopyT: the storage type of the compute copy written beside the fp32 master weights, or
// void for none.
template <typename CopyT>
__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, CopyT* copy, AdamWConstants k,
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
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) sum += static_cast<double>(x[i]) * x[i];
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

// ---- entry points ----------------------------------------------------------------------

void adamw_update(CudaContext& cc, float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step, double grad_scale,
                  DType copy_dtype, void* copy) {
  if (n == 0) return;
  const double t = static_cast<double>(step);
  const AdamWConstants k{static_cast<float>(beta1),
                         static_cast<float>(beta2),
                         static_cast<float>(1.0 / (1.0 - std::pow(beta1, t))),
                         static_cast<float>(1.0 / (1.0 - std::pow(beta2, t))),
                         static_cast<float>(lr),
                         static_cast<float>(lr * weight_decay),
                         static_cast<float>(eps),
                         static_cast<float>(grad_scale)};
  const auto launch = [&]<typename CopyT>(CopyT* copy_values) {
    adamw_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(params, grads, m, v, copy_values,
                                                                               k, n);
    CUDA_CHECK_LAUNCH();
  };
  if (copy == nullptr)
    launch(static_cast<void*>(nullptr));
  else
    dispatch_storage(copy_dtype, "adamw_update", [&]<typename T>() { launch(static_cast<T*>(copy)); });
}

double sum_squares(CudaContext& cc, const float* x, int64_t n) {
  if (n == 0) return 0.0;
  const int64_t chunks = CEIL_DIV(n, kSquaresChunk);
  MASKLM_CHECK(chunks <= INT32_MAX, "sum_squares: {} values are too many", n);
  ScratchPlan plan;
  const size_t partials_at = plan.add<double>(chunks), total_at = plan.add<double>(1);
  void* scratch = cc.scratch(plan.bytes);
  double* partials = ScratchPlan::at<double>(scratch, partials_at);
  double* total = ScratchPlan::at<double>(scratch, total_at);
  chunk_squares_kernel<<<static_cast<unsigned>(chunks), kThreads, 0, cc.stream()>>>(partials, x, n);
  CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<1, 1024, 0, cc.stream()>>>(total, partials, chunks);
  CUDA_CHECK_LAUNCH();
  double result = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&result, total, sizeof(double), cudaMemcpyDeviceToHost, cc.stream()));
  cc.synchronize();
  return result;
}

}  // namespace masklm::cuda
