// Elementwise ops: one value per thread in grid-stride loops, except dropout, where one
// thread handles the four values that share a Philox block (draw i is word i % 4 of block
// i / 4, as philox_u32 defines it), so each block is computed once.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// ---- kernels -------------------------------------------------------------------------

__global__ void gelu_forward_kernel(float* out, const float* in, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    const float x = in[i];
    out[i] = 0.5f * x * (1.0f + erff(x * kInvSqrt2));
  }
}

__global__ void gelu_backward_kernel(float* din, const float* dout, const float* in, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count()) {
    // gelu'(x) = Phi(x) + x * phi(x): the normal CDF plus x times the normal density.
    const float x = in[i];
    const float cdf = 0.5f * (1.0f + erff(x * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    din[i] += dout[i] * (cdf + x * pdf);
  }
}

__global__ void residual_forward_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    out[i] = a[i] + b[i];
}

__global__ void add_inplace_kernel(float* dst, const float* src, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    dst[i] += src[i];
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_count())
    x[i] *= s;
}

// ACCUMULATE false: out = keep ? in * scale : 0 (forward, out may alias in).
// ACCUMULATE true:  out += keep ? in * scale : 0 (backward).
template <bool ACCUMULATE>
__global__ void dropout_kernel(float* out, const float* in, int64_t n, float p, float scale, RngKey key) {
  const int64_t blocks = CEIL_DIV(n, 4);
  for (int64_t b = global_thread_index(); b < blocks; b += global_thread_count()) {
    const PhiloxCounter words = philox_block(key, static_cast<uint64_t>(b));
    for (int j = 0; j < 4 && 4 * b + j < n; ++j) {
      const int64_t i = 4 * b + j;
      const float kept = u32_to_uniform(words.c[j]) >= p ? in[i] * scale : 0.0f;
      if constexpr (ACCUMULATE)
        out[i] += kept;
      else
        out[i] = kept;
    }
  }
}

// ---- launchers -----------------------------------------------------------------------

template <typename Kernel, typename... Args>
void launch_flat(CudaContext& cc, Kernel kernel, int64_t n, Args... args) {
  if (n == 0) return;
  kernel<<<grid_stride_blocks(n, kThreads), kThreads, 0, cc.stream()>>>(args..., n);
  CUDA_CHECK_LAUNCH();
}

template <bool ACCUMULATE>
void launch_dropout(CudaContext& cc, float* out, const float* in, int64_t n, float p, const RngKey& key) {
  MASKLM_CHECK(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got {}", p);
  if (n == 0) return;
  // The scale is computed once on the host in float, exactly as the CPU computes it, so
  // kept values are bitwise equal on both backends.
  const float scale = 1.0f / (1.0f - p);
  dropout_kernel<ACCUMULATE><<<grid_stride_blocks(CEIL_DIV(n, 4), kThreads), kThreads, 0, cc.stream()>>>(
      out, in, n, p, scale, key);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void gelu_forward(CudaContext& cc, float* out, const float* in, int64_t n) {
  launch_flat(cc, gelu_forward_kernel, n, out, in);
}

void gelu_backward(CudaContext& cc, float* din, const float* dout, const float* in, int64_t n) {
  launch_flat(cc, gelu_backward_kernel, n, din, dout, in);
}

void residual_forward(CudaContext& cc, float* out, const float* a, const float* b, int64_t n) {
  launch_flat(cc, residual_forward_kernel, n, out, a, b);
}

void add_inplace(CudaContext& cc, float* dst, const float* src, int64_t n) {
  launch_flat(cc, add_inplace_kernel, n, dst, src);
}

void dropout_forward(CudaContext& cc, float* out, const float* in, int64_t n, float p, const RngKey& key) {
  if (p == 0.0f) {
    if (out != in && n > 0)
      CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice,
                                 cc.stream()));
    return;
  }
  launch_dropout<false>(cc, out, in, n, p, key);
}

void dropout_backward(CudaContext& cc, float* din, const float* dout, int64_t n, float p, const RngKey& key) {
  launch_dropout<true>(cc, din, dout, n, p, key);
}

void scale_inplace(CudaContext& cc, float* x, int64_t n, double s) {
  launch_flat(cc, scale_kernel, n, x, static_cast<float>(s));
}

void fill_zero(CudaContext& cc, float* x, int64_t n) {
  if (n > 0) CUDA_CHECK(cudaMemsetAsync(x, 0, static_cast<size_t>(n) * sizeof(float), cc.stream()));
}

}  // namespace masklm::cuda
