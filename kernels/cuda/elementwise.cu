// Elementwise ops and dtype conversion: one value per thread in grid-stride loops, or one
// 16-byte pack where n and the buffers allow (GELU, residual, add, scale), except dropout,
// where one thread handles the four values that share a Philox block (draw i is word i % 4
// of block i / 4, as philox_u32 defines it), so each block is computed once, and moves them
// as one pack where they allow.
// Every kernel is templated on the storage type (kernels/cuda/storage.cuh): fp32 math, one
// rounding per stored value; a += reads the 16-bit value, adds in fp32 and rounds once.
#include <algorithm>
#include <initializer_list>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/elementwise_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers -----------------------------------------------------------------------

// Launches kernel<T, W> on args cast to T* and n, for the storage type of `dtype`, with 16-byte
// packs (W = kPackWidth<T>) when n values at each of `buffers` fit them. Kernel is a
// template over T and W, passed as a lambda that names the instance.
template <typename Launch>
void launch_flat(CudaContext& cc, DType dtype, const char* op, int64_t n,
                 std::initializer_list<const void*> buffers, Launch launch) {
  if (n == 0) return;
  dispatch_storage(dtype, op, [&]<typename T>() {
    const bool packed = std::all_of(buffers.begin(), buffers.end(), [&](const void* p) {
      return rows_fit_packs<T>(n, static_cast<const T*>(p));
    });
    with_pack_width<T>(packed, [&]<int W>() {
      launch.template operator()<T, W>(grid_stride_blocks(n / W, kThreads), cc.stream());
    });
    CUDA_CHECK_LAUNCH();
  });
}

template <bool ACCUMULATE>
void launch_dropout(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n, float p,
                    const RngKey& key) {
  MASKLM_CHECK(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got {}", p);
  if (n == 0) return;
  const float scale = dropout_keep_scale(p);
  dispatch_storage(dtype, "dropout", [&]<typename T>() {
    T* y = static_cast<T*>(out);
    const T* x = static_cast<const T*>(in);
    const unsigned blocks = grid_stride_blocks(CEIL_DIV(n, 4), kThreads);
    if (dropout_packs_fit(n, y, x))
      launch_kernel(dropout_kernel<T, ACCUMULATE, true>, blocks, kThreads, 0, cc.stream(), y, x, n,
                    p, scale, key);
    else
      launch_kernel(dropout_kernel<T, ACCUMULATE, false>, blocks, kThreads, 0, cc.stream(), y, x, n,
                    p, scale, key);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void gelu_forward(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n) {
  launch_flat(cc, dtype, "gelu_forward", n, {out, in},
              [&]<typename T, int W>(unsigned blocks, cudaStream_t stream) {
                launch_kernel(gelu_forward_kernel<T, W>, blocks, kThreads, 0, stream,
                              static_cast<T*>(out), static_cast<const T*>(in), n);
              });
}

void gelu_backward(CudaContext& cc, DType dtype, void* din, const void* dout, const void* in, int64_t n) {
  launch_flat(cc, dtype, "gelu_backward", n, {din, dout, in},
              [&]<typename T, int W>(unsigned blocks, cudaStream_t stream) {
                launch_kernel(gelu_backward_kernel<T, W>, blocks, kThreads, 0, stream,
                              static_cast<T*>(din), static_cast<const T*>(dout),
                              static_cast<const T*>(in), n);
              });
}

void residual_forward(CudaContext& cc, DType dtype, void* out, const void* a, const void* b, int64_t n) {
  launch_flat(cc, dtype, "residual_forward", n, {out, a, b},
              [&]<typename T, int W>(unsigned blocks, cudaStream_t stream) {
                launch_kernel(residual_forward_kernel<T, W>, blocks, kThreads, 0, stream,
                              static_cast<T*>(out), static_cast<const T*>(a),
                              static_cast<const T*>(b), n);
              });
}

void add_inplace(CudaContext& cc, DType dtype, void* dst, const void* src, int64_t n) {
  launch_flat(cc, dtype, "add_inplace", n, {dst, src},
              [&]<typename T, int W>(unsigned blocks, cudaStream_t stream) {
                launch_kernel(residual_forward_kernel<T, W>, blocks, kThreads, 0, stream,
                              static_cast<T*>(dst), static_cast<const T*>(dst),
                              static_cast<const T*>(src), n);
              });
}

void dropout_forward(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n, float p,
                     const RngKey& key) {
  if (p == 0.0f) {
    if (out != in && n > 0)
      CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(n) * dtype_size(dtype), cudaMemcpyDeviceToDevice,
                                 cc.stream()));
    return;
  }
  launch_dropout<false>(cc, dtype, out, in, n, p, key);
}

void dropout_backward(CudaContext& cc, DType dtype, void* din, const void* dout, int64_t n, float p,
                      const RngKey& key) {
  launch_dropout<true>(cc, dtype, din, dout, n, p, key);
}

void scale_inplace(CudaContext& cc, DType dtype, void* x, int64_t n, double s) {
  launch_flat(cc, dtype, "scale_inplace", n, {x},
              [&]<typename T, int W>(unsigned blocks, cudaStream_t stream) {
                launch_kernel(scale_kernel<T, W>, blocks, kThreads, 0, stream, static_cast<T*>(x),
                              static_cast<float>(s), n);
              });
}

void convert(CudaContext& cc, DType dst_dtype, void* dst, DType src_dtype, const void* src,
             int64_t n) {
  if (n == 0) return;
  if (dst_dtype == src_dtype) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * dtype_size(dst_dtype),
                               cudaMemcpyDeviceToDevice, cc.stream()));
    return;
  }
  dispatch_storage(dst_dtype, "convert", [&]<typename Dst>() {
    dispatch_storage(src_dtype, "convert", [&]<typename Src>() {
      launch_kernel(convert_kernel<Dst, Src>, grid_stride_blocks(n, kThreads), kThreads, 0,
                    cc.stream(), static_cast<Dst*>(dst), static_cast<const Src*>(src), n);
      CUDA_CHECK_LAUNCH();
    });
  });
}

void fill_zero(CudaContext& cc, DType dtype, void* x, int64_t n) {
  if (n > 0) CUDA_CHECK(cudaMemsetAsync(x, 0, static_cast<size_t>(n) * dtype_size(dtype), cc.stream()));
}

}  // namespace masklm::cuda
