// One thread per column in both stages: neighbouring threads read neighbouring columns of
// a row, so every load is coalesced, and each sum has one owner and a fixed order.
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;

// ---- kernels -------------------------------------------------------------------------

// grid (column blocks, chunks): partials[chunk, c] = sum of src[r, c] over the chunk's rows.
template <typename T>
__global__ void chunk_column_sums_kernel(float* partials, const T* src, int64_t rows, int64_t cols, int64_t ld) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = blockIdx.y * kColumnSumChunkRows;
  const int64_t r1 = min(rows, r0 + kColumnSumChunkRows);
  float sum = 0.0f;
  for (int64_t r = r0; r < r1; ++r) sum += to_float(src[r * ld + c]);
  partials[blockIdx.y * cols + c] = sum;
}

__global__ void add_partial_sums_kernel(float* dst, const float* partials, int64_t chunks, int64_t cols) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  float sum = 0.0f;
  for (int64_t k = 0; k < chunks; ++k) sum += partials[k * cols + c];
  dst[c] += sum;
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void add_partial_sums(CudaContext& cc, float* dst, const float* partials, int64_t chunks, int64_t cols) {
  if (cols == 0) return;
  add_partial_sums_kernel<<<static_cast<unsigned>(CEIL_DIV(cols, kThreads)), kThreads, 0, cc.stream()>>>(
      dst, partials, chunks, cols);
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
    chunk_column_sums_kernel<<<grid, kThreads, 0, cc.stream()>>>(partials, static_cast<const T*>(src), rows, cols,
                                                                 ld);
    CUDA_CHECK_LAUNCH();
  });
  add_partial_sums(cc, dst, partials, chunks, cols);
}

}  // namespace masklm::cuda
