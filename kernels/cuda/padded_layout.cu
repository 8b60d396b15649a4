// Unpadded <-> padded rows (kernels/cuda/padded_layout.cuh): grid-stride loops over the
// padded positions, one element per thread; the sequence of a position comes from its
// index, its length from cu_seqlens.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/padded_layout.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;

// The token row of padded row (b, s), or -1 where the sequence has ended.
__device__ __forceinline__ int64_t token_row(const int32_t* cu_seqlens, int64_t b, int64_t s) {
  const int64_t first = cu_seqlens[b];
  return s < cu_seqlens[b + 1] - first ? first + s : -1;
}

template <typename T>
__global__ void pad_rows_kernel(T* padded, const T* src, const int32_t* cu_seqlens, int64_t S,
                                int64_t W, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const int64_t w = i % W, s = i / W % S, b = i / (W * S);
    const int64_t row = token_row(cu_seqlens, b, s);
    padded[i] = row >= 0 ? src[row * W + w] : from_float<T>(0.0f);
  }
}

template <typename T>
__global__ void unpad_rows_kernel(T* dst, const T* padded, const int32_t* cu_seqlens, int64_t S,
                                  int64_t W, int64_t n, bool accumulate) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const int64_t w = i % W, s = i / W % S, b = i / (W * S);
    const int64_t row = token_row(cu_seqlens, b, s);
    if (row < 0) continue;
    T& out = dst[row * W + w];
    out = accumulate ? from_float<T>(to_float(out) + to_float(padded[i])) : padded[i];
  }
}

// i indexes stats (B, NH, S); TO_PADDED: dst = stats, src = lse (NH, N); else the reverse.
template <bool TO_PADDED>
__global__ void move_lse_kernel(float* dst, const float* src, const int32_t* cu_seqlens,
                                int64_t S, int64_t NH, int64_t N, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const int64_t s = i % S, h = i / S % NH, b = i / (S * NH);
    const int64_t row = token_row(cu_seqlens, b, s);
    if constexpr (TO_PADDED)
      dst[i] = row >= 0 ? src[h * N + row] : 0.0f;
    else if (row >= 0)
      dst[h * N + row] = src[i];
  }
}

}  // namespace

void pad_rows(CudaContext& cc, DType dtype, void* padded, const void* src,
              const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W) {
  const int64_t n = B * S * W;
  if (n == 0) return;
  dispatch_storage(dtype, "pad_rows", [&]<typename T>() {
    pad_rows_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(
        static_cast<T*>(padded), static_cast<const T*>(src), cu_seqlens, S, W, n);
  });
  CUDA_CHECK_LAUNCH();
}

void unpad_rows(CudaContext& cc, DType dtype, void* dst, const void* padded,
                const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W, bool accumulate) {
  const int64_t n = B * S * W;
  if (n == 0) return;
  dispatch_storage(dtype, "unpad_rows", [&]<typename T>() {
    unpad_rows_kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(
        static_cast<T*>(dst), static_cast<const T*>(padded), cu_seqlens, S, W, n, accumulate);
  });
  CUDA_CHECK_LAUNCH();
}

void lse_to_padded(CudaContext& cc, float* stats, const float* lse, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N) {
  const int64_t n = B * NH * S;
  if (n == 0) return;
  move_lse_kernel<true><<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(
      stats, lse, cu_seqlens, S, NH, N, n);
  CUDA_CHECK_LAUNCH();
}

void padded_to_lse(CudaContext& cc, float* lse, const float* stats, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N) {
  const int64_t n = B * NH * S;
  if (n == 0) return;
  move_lse_kernel<false><<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(
      lse, stats, cu_seqlens, S, NH, N, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace masklm::cuda
