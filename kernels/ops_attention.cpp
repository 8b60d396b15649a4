// Entry points of attention_forward/backward: argument validation and dispatch. The fused
// tensor-core kernel (Ctx::attention AUTO or FUSED) or cuDNN's (CUDNN) runs 16-bit tensors
// on a GPU; otherwise the simple kernel (CUDA or CPU) runs, in F32, on widened copies of
// 16-bit tensors (kernels/f32_views.h).
#include <mutex>
#include <utility>

#include "kernels/cpu/attention.h"
#include "kernels/f32_views.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cudnn_attention.h"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "runtime/log.h"

namespace masklm {
namespace {

// Shapes and dtypes shared by the forward and the backward; returns B.
int64_t check_attention_args(const Tensor& qkv, const Tensor& lse, const Tensor& cu_seqlens,
                             int num_heads, float dropout_p, const char* op) {
  MASKLM_CHECK(qkv.shape.ndim == 2 && qkv.size(1) % 3 == 0, "{}: qkv must be (N, 3C), got {}", op,
               qkv.shape.str());
  const int64_t N = qkv.size(0), C = qkv.size(1) / 3;
  MASKLM_CHECK(num_heads > 0 && C % num_heads == 0,
               "{}: hidden size {} is not divisible by num_heads {}", op, C, num_heads);
  MASKLM_CHECK(dropout_p >= 0 && dropout_p < 1, "{}: dropout probability must be in [0, 1), got {}",
               op, dropout_p);
  check_shape(lse, {num_heads, N}, "lse");
  check_dtype(lse, accum_dtype(qkv.dtype), "lse");
  check_dtype(cu_seqlens, DType::I32, "cu_seqlens");
  MASKLM_CHECK(cu_seqlens.shape.ndim == 1 && cu_seqlens.size(0) >= 1,
               "{}: cu_seqlens must be (B + 1), got {}", op, cu_seqlens.shape.str());
  const int64_t B = cu_seqlens.size(0) - 1;
  // cu_seqlens lives in host memory on the CPU backend only; the CUDA path checks on device.
  if (cu_seqlens.device == Device::CPU) {
    const int32_t* cu = cu_seqlens.ptr<int32_t>();
    MASKLM_CHECK(cu[0] == 0, "{}: cu_seqlens must start at 0, got {}", op, cu[0]);
    for (int64_t b = 0; b < B; ++b)
      MASKLM_CHECK(cu[b] <= cu[b + 1],
                   "{}: cu_seqlens must be non-decreasing, but entry {} is {} "
                   "and entry {} is {}",
                   op, b, cu[b], b + 1, cu[b + 1]);
    MASKLM_CHECK(cu[B] == N, "{}: cu_seqlens must end at the token count {}, got {}", op, N, cu[B]);
  }
  return B;
}

// The kernel one call runs (kernels/ops.h's AttentionKernel, AUTO resolved).
enum class Route { SIMPLE, FUSED, CUDNN };

Route route(Ctx& ctx, DType dtype, int64_t head_size, const char* op) {
  const bool gpu_16bit = ctx.device == Device::CUDA && is_16bit(dtype);
  const auto require_gpu_16bit = [&](const char* kernel, const char* choice) {
    MASKLM_CHECK(gpu_16bit,
                 "{}: {} runs BF16/F16 tensors on a GPU, got {} on the {} (train.attention {} "
                 "needs --device cuda and train.precision bf16 or fp16)",
                 op, kernel, dtype_name(dtype), ctx.device == Device::CUDA ? "GPU" : "CPU",
                 choice);
  };
  bool applies = false;  // the fused kernel: an instance for the head size, on an sm_80+ GPU
  switch (ctx.attention) {
    case AttentionKernel::REFERENCE: return Route::SIMPLE;
    case AttentionKernel::FUSED:
      require_gpu_16bit("the fused attention", "fused");
      return Route::FUSED;  // the kernel names a head size or GPU it cannot run
    case AttentionKernel::CUDNN:
      require_gpu_16bit("cuDNN's attention", "cudnn");
#if MASKLM_WITH_CUDNN
      return Route::CUDNN;
#else
      MASKLM_FAIL("{}: this masklm was built without cuDNN (train.attention cudnn); configure "
                  "the CUDA build with cuDNN and cudnn_frontend found (scripts/setup, "
                  "-DMASKLM_CUDNN=ON)", op);
#endif
    case AttentionKernel::AUTO:
      if (gpu_16bit)
        run_on_cuda(ctx, dtype, op, [&](auto& cc) {
          applies = cuda::flash_attention_applies(cc, head_size);
        }, CudaDTypes::ONLY_16BIT);
      if (gpu_16bit && !applies) {
        // Once per process: a model has one head size, and the GPU does not change.
        static std::once_flag warned;
        std::call_once(warned, [&] {
          log_warn("{}: the fused attention has no kernel for head size {} on this GPU (it needs "
                   "32, 64 or 128 and compute capability 8.0+): the reference kernel runs, in fp32 "
                   "on widened copies, which is slower (train.attention cudnn may apply)",
                   op, head_size);
        });
      }
      return applies ? Route::FUSED : Route::SIMPLE;
  }
  return Route::SIMPLE;
}

}  // namespace

void attention_forward(Ctx& ctx, const Tensor& out, const Tensor& lse, const Tensor& qkv,
                       const Tensor& cu_seqlens, int num_heads, float dropout_p,
                       const RngKey& dropout_key) {
  constexpr const char* op = "attention_forward";
  check_device(ctx, {&out, &lse, &qkv, &cu_seqlens}, op);
  const int64_t B = check_attention_args(qkv, lse, cu_seqlens, num_heads, dropout_p, op);
  const int64_t N = qkv.size(0), C = qkv.size(1) / 3;
  check_shape(out, {N, C}, "out");
  check_dtype(out, qkv.dtype, "out");
  const Route kernel = route(ctx, qkv.dtype, C / num_heads, op);
  if (kernel != Route::SIMPLE) {
    run_on_cuda(ctx, qkv.dtype, op, [&](auto& cc) {
      auto* forward = cuda::flash_attention_forward;
#if MASKLM_WITH_CUDNN
      if (kernel == Route::CUDNN) forward = cuda::cudnn_attention_forward;
#endif
      forward(cc, qkv.dtype, out.data, lse.ptr<float>(), qkv.data, cu_seqlens.ptr<int32_t>(), B,
              N, C, int64_t{num_heads}, dropout_p, dropout_key);
    }, CudaDTypes::ONLY_16BIT);
    return;
  }
  if (is_16bit(qkv.dtype)) {
    F32Views f32(ctx);
    attention_forward(ctx, f32.out(out), lse, f32.in(qkv), cu_seqlens, num_heads, dropout_p,
                      dropout_key);
    return;
  }
  if (run_on_cuda(ctx, qkv.dtype, op, [&](auto& cc) {
        cuda::attention_forward(cc, out.ptr<float>(), lse.ptr<float>(), qkv.ptr<float>(),
                                cu_seqlens.ptr<int32_t>(), B, N, C, int64_t{num_heads}, dropout_p,
                                dropout_key);
      }))
    return;
  dispatch_float(qkv.dtype, op, [&]<typename T>() {
    cpu::attention_forward(out.ptr<T>(), lse.ptr<T>(), qkv.ptr<T>(), cu_seqlens.ptr<int32_t>(), B,
                           N, C, int64_t{num_heads}, dropout_p, dropout_key);
  });
}

void attention_backward(Ctx& ctx, const Tensor& dqkv, const Tensor& dout, const Tensor& out,
                        const Tensor& qkv, const Tensor& lse, const Tensor& cu_seqlens,
                        int num_heads, float dropout_p, const RngKey& dropout_key) {
  constexpr const char* op = "attention_backward";
  check_device(ctx, {&dqkv, &dout, &out, &qkv, &lse, &cu_seqlens}, op);
  const int64_t B = check_attention_args(qkv, lse, cu_seqlens, num_heads, dropout_p, op);
  const int64_t N = qkv.size(0), C = qkv.size(1) / 3;
  for (const auto& [t, name] : {std::pair{&dout, "dout"}, std::pair{&out, "out"}}) {
    check_shape(*t, {N, C}, name);
    check_dtype(*t, qkv.dtype, name);
  }
  if (dqkv.empty()) return;  // "not needed": attention has no other gradient output
  check_shape(dqkv, qkv.shape, "dqkv");
  check_dtype(dqkv, qkv.dtype, "dqkv");
  const Route kernel = route(ctx, qkv.dtype, C / num_heads, op);
  if (kernel != Route::SIMPLE) {
    run_on_cuda(ctx, qkv.dtype, op, [&](auto& cc) {
      auto* backward = cuda::flash_attention_backward;
#if MASKLM_WITH_CUDNN
      if (kernel == Route::CUDNN) backward = cuda::cudnn_attention_backward;
#endif
      backward(cc, qkv.dtype, dqkv.data, dout.data, out.data, qkv.data, lse.ptr<float>(),
               cu_seqlens.ptr<int32_t>(), B, N, C, int64_t{num_heads}, dropout_p, dropout_key);
    }, CudaDTypes::ONLY_16BIT);
    return;
  }
  if (is_16bit(qkv.dtype)) {
    F32Views f32(ctx);
    attention_backward(ctx, f32.inout(dqkv), f32.in(dout), f32.in(out), f32.in(qkv), lse,
                       cu_seqlens, num_heads, dropout_p, dropout_key);
    return;
  }
  if (run_on_cuda(ctx, qkv.dtype, op, [&](auto& cc) {
        cuda::attention_backward(cc, dqkv.ptr<float>(), dout.ptr<float>(), out.ptr<float>(),
                                 qkv.ptr<float>(), lse.ptr<float>(), cu_seqlens.ptr<int32_t>(), B, N, C,
                                 int64_t{num_heads}, dropout_p, dropout_key);
      }))
    return;
  dispatch_float(qkv.dtype, op, [&]<typename T>() {
    cpu::attention_backward(dqkv.ptr<T>(), dout.ptr<T>(), out.ptr<T>(), qkv.ptr<T>(), lse.ptr<T>(),
                            cu_seqlens.ptr<int32_t>(), B, N, C, int64_t{num_heads}, dropout_p,
                            dropout_key);
  });
}

}  // namespace masklm
