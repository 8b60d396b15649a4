// Unpadded <-> padded rows (kernels/cuda/padded_layout.cuh). Row copies take one block per
// padded row (b, s), which finds its token once and copies W contiguous elements; the
// statistics take one thread per padded row, looping over the heads.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/padded_layout.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kRowThreads = 128, kThreads = 256;

// The token row of padded row (b, s), or -1 where the sequence has ended.
__device__ __forceinline__ int64_t token_row(const int32_t* cu_seqlens, int64_t b, int64_t s) {
  const int64_t first = cu_seqlens[b];
  return s < cu_seqlens[b + 1] - first ? first + s : -1;
}

// Block r handles padded row r = b * S + s.
template <typename T>
__global__ void pad_rows_kernel(T* padded, const T* src, const int32_t* cu_seqlens, int64_t S,
                                int64_t W) {
  const int64_t r = blockIdx.x, row = token_row(cu_seqlens, r / S, r % S);
  T* dst = padded + r * W;
  for (int64_t w = threadIdx.x; w < W; w += blockDim.x)
    dst[w] = row >= 0 ? src[row * W + w] : from_float<T>(0.0f);
}

template <typename T>
__global__ void unpad_rows_kernel(T* dst, const T* padded, const int32_t* cu_seqlens, int64_t S,
                                  int64_t W, bool accumulate) {
  const int64_t r = blockIdx.x, row = token_row(cu_seqlens, r / S, r % S);
  if (row < 0) return;
  const T* from = padded + r * W;
  T* to = dst + row * W;
  for (int64_t w = threadIdx.x; w < W; w += blockDim.x)
    to[w] = accumulate ? from_float<T>(to_float(to[w]) + to_float(from[w])) : from[w];
}

// Thread r handles padded row r = b * S + s of stats (B, NH, S) for every head; TO_PADDED:
// dst = stats, src = lse (NH, N), else the reverse.
template <bool TO_PADDED>
__global__ void move_lse_kernel(float* dst, const float* src, const int32_t* cu_seqlens,
                                int64_t B, int64_t S, int64_t NH, int64_t N) {
  for (int64_t r = global_thread_index(); r < B * S; r += global_thread_count()) {
    const int64_t b = r / S, s = r % S, row = token_row(cu_seqlens, b, s);
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t padded = (b * NH + h) * S + s;
      if constexpr (TO_PADDED)
        dst[padded] = row >= 0 ? src[h * N + row] : 0.0f;
      else if (row >= 0)
        dst[h * N + row] = src[padded];
    }
  }
}

template <bool TO_PADDED>
void launch_move_lse(CudaContext& cc, float* dst, const float* src, const int32_t* cu_seqlens,
                     int64_t B, int64_t S, int64_t NH, int64_t N) {
  if (B * S * NH == 0) return;
  move_lse_kernel<TO_PADDED><<<grid_stride_blocks(B * S, kThreads), kThreads, 0, cc.stream()>>>(
      dst, src, cu_seqlens, B, S, NH, N);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void pad_rows(CudaContext& cc, DType dtype, void* padded, const void* src,
              const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W) {
  if (B * S * W == 0) return;
  dispatch_storage(dtype, "pad_rows", [&]<typename T>() {
    pad_rows_kernel<<<static_cast<unsigned>(B * S), kRowThreads, 0, cc.stream()>>>(
        static_cast<T*>(padded), static_cast<const T*>(src), cu_seqlens, S, W);
  });
  CUDA_CHECK_LAUNCH();
}

void unpad_rows(CudaContext& cc, DType dtype, void* dst, const void* padded,
                const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W, bool accumulate) {
  if (B * S * W == 0) return;
  dispatch_storage(dtype, "unpad_rows", [&]<typename T>() {
    unpad_rows_kernel<<<static_cast<unsigned>(B * S), kRowThreads, 0, cc.stream()>>>(
        static_cast<T*>(dst), static_cast<const T*>(padded), cu_seqlens, S, W, accumulate);
  });
  CUDA_CHECK_LAUNCH();
}

void lse_to_padded(CudaContext& cc, float* stats, const float* lse, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N) {
  launch_move_lse<true>(cc, stats, lse, cu_seqlens, B, S, NH, N);
}

void padded_to_lse(CudaContext& cc, float* lse, const float* stats, const int32_t* cu_seqlens,
                   int64_t B, int64_t S, int64_t NH, int64_t N) {
  launch_move_lse<false>(cc, lse, stats, cu_seqlens, B, S, NH, N);
}

}  // namespace masklm::cuda
