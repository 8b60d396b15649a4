// AdamW is one thread per value (or per 4 values, in 16-byte packs, where the buffers
// allow) with the step-wide constants computed on the host in double and the per-value
// math in fp32, exactly like the CPU; with a compute copy it also stores each updated fp32
// master weight rounded to the copy's 16-bit type. sum_squares reduces in two stages over
// fixed chunks of kSquaresChunk values (the partition depends only on n), each
// in a fixed tree order, so the result is the same bits on every GPU and every run.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/optim.cuh"
#include "kernels/cuda/optim_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {

// ---- entry points ----------------------------------------------------------------------

void adamw_update(CudaContext& cc, float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t step, double grad_scale,
                  DType copy_dtype, void* copy) {
  if (n == 0) return;
  const AdamWConstants k = adamw_constants(lr, beta1, beta2, eps, weight_decay, step, grad_scale);
  const auto launch = [&]<typename CopyT>(CopyT* copy_values) {
    with_pack_width<float>(
        adamw_packs_fit<CopyT>(n, params, grads, m, v, copy_values), [&]<int W>() {
          launch_kernel(adamw_kernel<CopyT, W>, grid_stride_blocks(n / W, kThreads), kThreads, 0,
                        cc.stream(), params, grads, m, v, copy_values, k, n);
        });
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
  launch_kernel(chunk_squares_kernel, static_cast<unsigned>(chunks), kThreads, 0, cc.stream(),
                partials, x, n);
  CUDA_CHECK_LAUNCH();
  launch_kernel(sum_partials_kernel, 1, 1024, 0, cc.stream(), total, partials, chunks);
  CUDA_CHECK_LAUNCH();
  double result = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&result, total, sizeof(double), cudaMemcpyDeviceToHost, cc.stream()));
  cc.synchronize();
  return result;
}

}  // namespace masklm::cuda
