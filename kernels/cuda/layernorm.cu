// One warp per row for everything per row (statistics, normalization, din), reading the
// row from global memory once per pass (rows of a few thousand floats stay in L1/L2), in
// 16-byte packs per lane where the rows allow (C a multiple of 8 16-bit or 4 fp32 values,
// aligned buffers: every BERT shape), scalar loads otherwise. The residual add fused in
// front of the forward writes the sum and normalizes it in the same pass over the row.
// dweight and dbias sum over rows: a deterministic two-stage column reduction
// (kernels/cuda/column_sums.cuh), no atomics. Templated on the storage type T of in, out,
// weight, bias, dout and din (kernels/cuda/storage.cuh); mean, rstd, dweight and dbias are
// always fp32, like every sum here.
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/layernorm_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers -----------------------------------------------------------------------

template <typename T>
void launch_param_grads(CudaContext& cc, float* dweight, float* dbias, const T* dout, const T* in, const float* mean,
                        const float* rstd, int64_t N, int64_t C) {
  const int64_t chunks = column_sum_chunks(N);
  MASKLM_CHECK(chunks <= 65535, "layernorm_backward: {} rows exceed the grid's {} chunks", N, 65535);
  ScratchPlan plan;
  const size_t dw_offset = plan.add<float>(chunks * C), db_offset = plan.add<float>(chunks * C);
  void* scratch = cc.scratch(plan.bytes);
  float* dw_partials = ScratchPlan::at<float>(scratch, dw_offset);
  float* db_partials = ScratchPlan::at<float>(scratch, db_offset);
  const dim3 grid(static_cast<unsigned>(CEIL_DIV(C, kColumnThreads)), static_cast<unsigned>(chunks));
  launch_kernel(layernorm_param_partials_kernel<T>, grid, kColumnThreads, 0, cc.stream(),
                dw_partials, db_partials, dout, in, mean, rstd, N, C);
  CUDA_CHECK_LAUNCH();
  if (dweight) add_partial_sums(cc, dweight, dw_partials, chunks, C);
  if (dbias) add_partial_sums(cc, dbias, db_partials, chunks, C);
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void layernorm_forward(CudaContext& cc, DType dtype, void* out, float* mean, float* rstd, const void* in,
                       const void* weight, const void* bias, int64_t N, int64_t C, double eps) {
  MASKLM_CHECK(C > 0, "layernorm_forward: cannot normalize rows of 0 values");
  if (N == 0) return;
  dispatch_storage(dtype, "layernorm_forward", [&]<typename T>() {
    const T *x = static_cast<const T*>(in), *w = static_cast<const T*>(weight), *b = static_cast<const T*>(bias);
    T* y = static_cast<T*>(out);
    with_pack_width<T>(rows_fit_packs<T>(C, y, x, w, b), [&]<int W>() {
      launch_kernel(layernorm_forward_kernel<T, W>, row_blocks(N), kRowsPerBlock * WARP_SIZE, 0,
                    cc.stream(), y, mean, rstd, x, w, b, N, C, static_cast<float>(eps));
    });
    CUDA_CHECK_LAUNCH();
  });
}

void residual_layernorm_forward(CudaContext& cc, DType dtype, void* sum, void* out, float* mean, float* rstd,
                                const void* a, const void* b, const void* weight, const void* bias, int64_t N,
                                int64_t C, double eps) {
  MASKLM_CHECK(C > 0, "residual_layernorm_forward: cannot normalize rows of 0 values");
  if (N == 0) return;
  dispatch_storage(dtype, "residual_layernorm_forward", [&]<typename T>() {
    const T *x = static_cast<const T*>(a), *y = static_cast<const T*>(b);
    const T *w = static_cast<const T*>(weight), *bi = static_cast<const T*>(bias);
    T *s = static_cast<T*>(sum), *o = static_cast<T*>(out);
    with_pack_width<T>(rows_fit_packs<T>(C, s, o, x, y, w, bi), [&]<int W>() {
      launch_kernel(residual_layernorm_forward_kernel<T, W>, row_blocks(N),
                    kRowsPerBlock * WARP_SIZE, 0, cc.stream(), s, o, mean, rstd, x, y, w, bi, N, C,
                    static_cast<float>(eps));
    });
    CUDA_CHECK_LAUNCH();
  });
}

void layernorm_backward(CudaContext& cc, DType dtype, void* din, float* dweight, float* dbias, const void* dout,
                        const void* in, const void* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C) {
  if (N == 0 || C == 0) return;
  dispatch_storage(dtype, "layernorm_backward", [&]<typename T>() {
    const T *dy = static_cast<const T*>(dout), *x = static_cast<const T*>(in);
    if (din) {
      T* dx = static_cast<T*>(din);
      const T* w = static_cast<const T*>(weight);
      with_pack_width<T>(rows_fit_packs<T>(C, dx, dy, x, w), [&]<int W>() {
        launch_kernel(layernorm_din_kernel<T, W>, row_blocks(N), kRowsPerBlock * WARP_SIZE, 0,
                      cc.stream(), dx, dy, x, w, mean, rstd, N, C);
      });
      CUDA_CHECK_LAUNCH();
    }
    if (dweight || dbias) launch_param_grads(cc, dweight, dbias, dy, x, mean, rstd, N, C);
  });
}

}  // namespace masklm::cuda
