// Unpadded <-> padded rows (kernels/cuda/padded_layout.cuh). Row copies take one block per
// padded row (b, s), which finds its token once and copies W contiguous elements; the
// statistics take one thread per padded row, looping over the heads.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/padded_layout.cuh"
#include "kernels/cuda/padded_layout_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

template <bool TO_PADDED>
void launch_move_lse(CudaContext& cc, float* dst, const float* src, const int32_t* cu_seqlens,
                     int64_t B, int64_t S, int64_t NH, int64_t N) {
  if (B * S * NH == 0) return;
  launch_kernel(move_lse_kernel<TO_PADDED>, grid_stride_blocks(B * S, kThreads), kThreads, 0,
                cc.stream(), dst, src, cu_seqlens, B, S, NH, N);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void pad_rows(CudaContext& cc, DType dtype, void* padded, const void* src,
              const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W) {
  if (B * S * W == 0) return;
  dispatch_storage(dtype, "pad_rows", [&]<typename T>() {
    launch_kernel(pad_rows_kernel<T>, static_cast<unsigned>(B * S), kRowThreads, 0, cc.stream(),
                  static_cast<T*>(padded), static_cast<const T*>(src), cu_seqlens, S, W);
  });
  CUDA_CHECK_LAUNCH();
}

void unpad_rows(CudaContext& cc, DType dtype, void* dst, const void* padded,
                const int32_t* cu_seqlens, int64_t B, int64_t S, int64_t W, bool accumulate) {
  if (B * S * W == 0) return;
  dispatch_storage(dtype, "unpad_rows", [&]<typename T>() {
    launch_kernel(unpad_rows_kernel<T>, static_cast<unsigned>(B * S), kRowThreads, 0, cc.stream(),
                  static_cast<T*>(dst), static_cast<const T*>(padded), cu_seqlens, S, W,
                  accumulate);
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
