// Elementwise ops and dtype conversion: one value per thread in grid-stride loops, except
// dropout, where one thread handles the four values that share a Philox block (draw i is
// word i % 4 of block i / 4, as philox_u32 defines it), so each block is computed once.
// Every kernel is templated on the storage type (kernels/cuda/storage.cuh): fp32 math, one
// rounding per stored value; a += reads the 16-bit value, adds in fp32 and rounds once.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// ---- kernels -------------------------------------------------------------------------

template <typename T> __global__ void gelu_forward_kernel(T* out, const T* in, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const float x = to_float(in[i]);
    out[i] = from_float<T>(0.5f * x * (1.0f + erff(x * kInvSqrt2)));
  }
}

template <typename T> __global__ void gelu_backward_kernel(T* din, const T* dout, const T* in, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    // gelu'(x) = Phi(x) + x * phi(x): the normal CDF plus x times the normal density.
    const float x = to_float(in[i]);
    const float cdf = 0.5f * (1.0f + erff(x * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    din[i] = from_float<T>(to_float(din[i]) + to_float(dout[i]) * (cdf + x * pdf));
  }
}

template <typename T> __global__ void residual_forward_kernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T> __global__ void add_inplace_kernel(T* dst, const T* src, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    dst[i] = from_float<T>(to_float(dst[i]) + to_float(src[i]));
}

template <typename T> __global__ void scale_kernel(T* x, float s, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    x[i] = from_float<T>(to_float(x[i]) * s);
}

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* dst, const Src* src, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    dst[i] = from_float<Dst>(to_float(src[i]));
}

// ACCUMULATE false: out = keep ? in * scale : 0 (forward, out may alias in).
// ACCUMULATE true:  out += keep ? in * scale : 0 (backward).
template <typename T, bool ACCUMULATE>
__global__ void dropout_kernel(T* out, const T* in, int64_t n, float p, float scale, RngKey key) {
  const int64_t blocks = CEIL_DIV(n, 4);
  for (int64_t b = global_thread_index(); b < blocks; b += global_thread_count()) {
    const PhiloxCounter words = philox_block(key, static_cast<uint64_t>(b));
    for (int j = 0; j < 4 && 4 * b + j < n; ++j) {
      const int64_t i = 4 * b + j;
      const float kept = u32_to_uniform(words.c[j]) >= p ? to_float(in[i]) * scale : 0.0f;
      if constexpr (ACCUMULATE)
        out[i] = from_float<T>(to_float(out[i]) + kept);
      else
        out[i] = from_float<T>(kept);
    }
  }
}

// ---- launchers -----------------------------------------------------------------------

// kernel<T><<<...>>>(args cast to T*, n) for the storage type of `dtype`. Kernel is a
// template over T, passed as a lambda that names the instance.
template <typename Launch> void launch_flat(CudaContext& cc, DType dtype, const char* op, int64_t n, Launch launch) {
  if (n == 0) return;
  dispatch_storage(dtype, op, [&]<typename T>() {
    launch.template operator()<T>(grid_stride_blocks(n, kThreads), cc.stream());
    CUDA_CHECK_LAUNCH();
  });
}

template <bool ACCUMULATE>
void launch_dropout(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n, float p,
                    const RngKey& key) {
  MASKLM_CHECK(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got {}", p);
  if (n == 0) return;
  // The scale is computed once on the host in float, exactly as the CPU computes it, so
  // kept fp32 values are bitwise equal on both backends.
  const float scale = 1.0f / (1.0f - p);
  dispatch_storage(dtype, "dropout", [&]<typename T>() {
    dropout_kernel<T, ACCUMULATE><<<grid_stride_blocks(CEIL_DIV(n, 4), kThreads), kThreads, 0, cc.stream()>>>(
        static_cast<T*>(out), static_cast<const T*>(in), n, p, scale, key);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void gelu_forward(CudaContext& cc, DType dtype, void* out, const void* in, int64_t n) {
  launch_flat(cc, dtype, "gelu_forward", n, [&]<typename T>(unsigned blocks, cudaStream_t stream) {
    gelu_forward_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(in), n);
  });
}

void gelu_backward(CudaContext& cc, DType dtype, void* din, const void* dout, const void* in, int64_t n) {
  launch_flat(cc, dtype, "gelu_backward", n, [&]<typename T>(unsigned blocks, cudaStream_t stream) {
    gelu_backward_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(din), static_cast<const T*>(dout),
                                                             static_cast<const T*>(in), n);
  });
}

void residual_forward(CudaContext& cc, DType dtype, void* out, const void* a, const void* b, int64_t n) {
  launch_flat(cc, dtype, "residual_forward", n, [&]<typename T>(unsigned blocks, cudaStream_t stream) {
    residual_forward_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(out), static_cast<const T*>(a),
                                                                static_cast<const T*>(b), n);
  });
}

void add_inplace(CudaContext& cc, DType dtype, void* dst, const void* src, int64_t n) {
  launch_flat(cc, dtype, "add_inplace", n, [&]<typename T>(unsigned blocks, cudaStream_t stream) {
    add_inplace_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(dst), static_cast<const T*>(src), n);
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
  launch_flat(cc, dtype, "scale_inplace", n, [&]<typename T>(unsigned blocks, cudaStream_t stream) {
    scale_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<T*>(x), static_cast<float>(s), n);
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
      convert_kernel<Dst, Src><<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(
          static_cast<Dst*>(dst), static_cast<const Src*>(src), n);
      CUDA_CHECK_LAUNCH();
    });
  });
}

void fill_zero(CudaContext& cc, DType dtype, void* x, int64_t n) {
  if (n > 0) CUDA_CHECK(cudaMemsetAsync(x, 0, static_cast<size_t>(n) * dtype_size(dtype), cc.stream()));
}

}  // namespace masklm::cuda
