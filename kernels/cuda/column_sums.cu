// Launches of the column-sum kernels (kernels/cuda/column_sums_kernels.cuh).
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/column_sums_kernels.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {

// ---- entry points ----------------------------------------------------------------------

void add_partial_sums(CudaContext& cc, float* dst, const float* partials, int64_t chunks, int64_t cols) {
  if (cols == 0) return;
  launch_kernel(add_partial_sums_kernel, static_cast<unsigned>(CEIL_DIV(cols, kThreads)), kThreads,
                0, cc.stream(), dst, partials, chunks, cols);
  CUDA_CHECK_LAUNCH();
}

void add_column_sums(CudaContext& cc, float* dst, DType src_dtype, const void* src, int64_t rows, int64_t cols,
                     int64_t ld, float* partials) {
  MASKLM_CHECK(ld >= cols, "add_column_sums: leading dimension {} below the {} columns", ld, cols);
  if (rows == 0 || cols == 0) return;
  const int64_t chunks = column_sum_chunks(rows);
  MASKLM_CHECK(chunks <= 65535, "add_column_sums: {} rows exceed the grid's {} chunks", rows, 65535);
  const dim3 grid(static_cast<unsigned>(CEIL_DIV(cols, kThreads)), static_cast<unsigned>(chunks));
  dispatch_storage(src_dtype, "add_column_sums", [&]<typename T>() {
    launch_kernel(chunk_column_sums_kernel<T>, grid, kThreads, 0, cc.stream(), partials,
                  static_cast<const T*>(src), rows, cols, ld);
    CUDA_CHECK_LAUNCH();
  });
  add_partial_sums(cc, dst, partials, chunks, cols);
}

}  // namespace masklm::cuda
