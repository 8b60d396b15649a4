// Entry points of the optimizer and flat-buffer ops (validate, check devices, dispatch to
// cpu:: or cuda::; 16-bit tensors on the CPU via their F32 views, kernels/f32_views.h),
// upload() and synchronize().
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/optim.cuh"
#include "kernels/dispatch.h"
#include "kernels/f32_views.h"
#include "kernels/ops.h"
#include "runtime/device.h"
#if MASKLM_WITH_CUDA
#include "runtime/cuda_context.h"  // upload() and synchronize() call the CudaContext
#endif  // MASKLM_WITH_CUDA

namespace masklm {

void adamw_update(Ctx& ctx, const Tensor& params, const Tensor& grads, const Tensor& m,
                  const Tensor& v, const AdamWStep& s, const Tensor& compute_copy) {
  const char* op = "adamw_update";
  check_shape(grads, params.shape, "adamw_update: grads");
  check_shape(m, params.shape, "adamw_update: m");
  check_shape(v, params.shape, "adamw_update: v");
  check_dtype(grads, params.dtype, "adamw_update: grads");
  check_dtype(m, params.dtype, "adamw_update: m");
  check_dtype(v, params.dtype, "adamw_update: v");
  MASKLM_CHECK(s.step >= 1, "{}: step is 1-based for bias correction, got {}", op, s.step);
  MASKLM_CHECK(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1,
               "{}: betas must be in [0, 1), got ({}, {})", op, s.beta1, s.beta2);
  MASKLM_CHECK(s.eps > 0, "{}: eps must be > 0, got {}", op, s.eps);
  MASKLM_CHECK(std::isfinite(s.lr) && std::isfinite(s.grad_scale) && std::isfinite(s.weight_decay),
               "{}: lr, weight_decay and grad_scale must be finite", op);
  if (!compute_copy.empty()) {
    check_shape(compute_copy, params.shape, "adamw_update: compute_copy");
    MASKLM_CHECK(params.dtype == DType::F32 && is_16bit(compute_copy.dtype),
                 "{}: a compute copy is BF16 or F16 beside F32 params, got {} beside {}", op,
                 dtype_name(compute_copy.dtype), dtype_name(params.dtype));
  }
  check_device(ctx, {&params, &grads, &m, &v, &compute_copy}, op);
  if (run_on_cuda(ctx, params.dtype, op, [&](auto& cc) {
        cuda::adamw_update(cc, params.ptr<float>(), grads.ptr<float>(), m.ptr<float>(), v.ptr<float>(),
                           params.numel(), s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.step,
                           s.grad_scale, compute_copy.dtype, compute_copy.empty() ? nullptr : compute_copy.data);
      }))
    return;
  dispatch_float(params.dtype, op, [&]<typename T>() {
    cpu::adamw_update<T>(params.ptr<T>(), grads.ptr<T>(), m.ptr<T>(), v.ptr<T>(), params.numel(),
                         s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.step, s.grad_scale);
  });
  // The GPU kernel stores each updated master weight rounded into the copy; so does this.
  if (!compute_copy.empty()) convert(ctx, compute_copy, params);
}

double sum_squares(Ctx& ctx, const Tensor& x) {
  const char* op = "sum_squares";
  check_device(ctx, {&x}, op);
  double result = 0;
  if (run_on_cuda(ctx, x.dtype, op, [&](auto& cc) { result = cuda::sum_squares(cc, x.ptr<float>(), x.numel()); }))
    return result;
  dispatch_float(x.dtype, op, [&]<typename T>() { result = cpu::sum_squares<T>(x.ptr<T>(), x.numel()); });
  return result;
}

void scale_inplace(Ctx& ctx, const Tensor& x, double s) {
  const char* op = "scale_inplace";
  check_device(ctx, {&x}, op);
  if (run_on_cuda(
          ctx, x.dtype, op, [&](auto& cc) { cuda::scale_inplace(cc, x.dtype, x.data, x.numel(), s); },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(x.dtype)) {
    F32Views f32(ctx);
    scale_inplace(ctx, f32.inout(x), s);
    return;
  }
  dispatch_float(x.dtype, op, [&]<typename T>() { cpu::scale_inplace<T>(x.ptr<T>(), x.numel(), s); });
}

void fill_zero(Ctx& ctx, const Tensor& x) {
  const char* op = "fill_zero";
  check_device(ctx, {&x}, op);
  if (run_on_cuda(
          ctx, x.dtype, op, [&](auto& cc) { cuda::fill_zero(cc, x.dtype, x.data, x.numel()); },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(x.dtype)) {
    F32Views f32(ctx);
    fill_zero(ctx, f32.out(x));
    return;
  }
  dispatch_float(x.dtype, op, [&]<typename T>() { cpu::fill_zero<T>(x.ptr<T>(), x.numel()); });
}

void convert(Ctx& ctx, const Tensor& dst, const Tensor& src) {
  const char* op = "convert";
  check_shape(dst, src.shape, "convert: dst");
  const auto compute_dtype = [](DType t) { return t == DType::F32 || is_16bit(t); };
  MASKLM_CHECK(compute_dtype(dst.dtype) && compute_dtype(src.dtype) &&
                   (dst.dtype == src.dtype || dst.dtype == DType::F32 || src.dtype == DType::F32),
               "{}: converts between F32 and BF16 or F16, or copies one of them, got {} to {}", op,
               dtype_name(src.dtype), dtype_name(dst.dtype));
  check_device(ctx, {&dst, &src}, op);
  if (run_on_cuda(
          ctx, src.dtype, op,
          [&](auto& cc) {
            cuda::convert(cc, dst.dtype, dst.data, src.dtype, src.data, src.numel());
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (src.numel() == 0) return;
  if (dst.dtype == src.dtype) {
    std::memcpy(dst.data, src.data, src.nbytes());
  } else if (src.dtype == DType::F32) {
    cpu::round_to_16bit(dst.dtype, static_cast<uint16_t*>(dst.data), src.ptr<float>(),
                        src.numel());
  } else {
    cpu::widen_16bit(dst.ptr<float>(), src.dtype, static_cast<const uint16_t*>(src.data),
                     src.numel());
  }
}

void upload(Ctx& ctx, std::span<const Upload> copies) {
  for (const Upload& c : copies) {
    if (c.dst.empty() && c.src.empty()) continue;
    MASKLM_CHECK(c.src.device == Device::CPU && c.dst.device == ctx.device,
                 "upload: copies go from the host to the context's device");
    check_shape(c.dst, c.src.shape, "upload: dst");
    MASKLM_CHECK(c.dst.dtype == c.src.dtype, "upload: {} values cannot go into a {} tensor",
                 dtype_name(c.src.dtype), dtype_name(c.dst.dtype));
  }
  if (run_on_cuda(ctx, DType::F32, "upload", [&](auto& cc) {
        thread_local std::vector<HostToDevice> raw;  // keeps its capacity: steps allocate nothing
        raw.clear();
        for (const Upload& c : copies)
          if (!c.src.empty()) raw.push_back({c.dst.data, c.src.data, c.dst.nbytes()});
        cc.upload(raw);
      }))
    return;
  for (const Upload& c : copies)
    if (!c.src.empty()) std::memcpy(c.dst.data, c.src.data, c.dst.nbytes());
}

void reserve_upload(Ctx& ctx, size_t bytes) {
  run_on_cuda(ctx, DType::F32, "reserve_upload", [&](auto& cc) { cc.reserve_upload(bytes); });
}

void synchronize(Ctx& ctx) {
  run_on_cuda(ctx, DType::F32, "synchronize", [](auto& cc) { cc.synchronize(); });
}

}  // namespace masklm
