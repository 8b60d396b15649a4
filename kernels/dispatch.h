// Dtype and device dispatch used by the ops' entry points (kernels/ops_*.cpp).
#pragma once

#include <utility>

#include "runtime/error.h"
#include "kernels/ops.h"
#include "runtime/tensor.h"

namespace masklm {

// Calls fn.template operator()<T>() with T = float or double according to dtype.
template <typename Fn> void dispatch_float(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::F32: std::forward<Fn>(fn).template operator()<float>(); return;
    case DType::F64: std::forward<Fn>(fn).template operator()<double>(); return;
    default: MASKLM_FAIL("{}: the CPU backend computes in F32 or F64, got {}", op, dtype_name(dtype));
  }
}

// A GPU context in a build without the CUDA backend says so clearly.
[[noreturn]] inline void no_cuda_kernel(const char* op) {
  MASKLM_FAIL("{}: this masklm was built without CUDA; run with --device cpu", op);
}

// On a GPU context, runs fn(CudaContext&) and returns true; on the CPU returns false. The
// CUDA backend computes in F32 (kernels/cuda/precision.h); an op with 16-bit kernels (the
// fused attention) passes dtype_16bit = true to run them for BF16/F16 tensors instead. fn
// is a generic lambda calling into cuda::, so in a build without CUDA its body is never
// instantiated and only the declarations in kernels/cuda/*.cuh are needed.
template <typename Fn>
bool run_on_cuda(Ctx& ctx, DType dtype, const char* op, Fn&& fn, bool dtype_16bit = false) {
  if (ctx.device != Device::CUDA) return false;
#if MASKLM_WITH_CUDA
  MASKLM_CHECK(ctx.cuda != nullptr, "{}: a CUDA Ctx needs its CudaContext (Ctx::cuda)", op);
  if (dtype_16bit)
    MASKLM_CHECK(dtype == DType::BF16 || dtype == DType::F16,
                 "{}: the 16-bit CUDA kernels compute in BF16 or F16, got {}", op,
                 dtype_name(dtype));
  else
    MASKLM_CHECK(dtype == DType::F32, "{}: the CUDA backend computes in F32, got {}", op,
                 dtype_name(dtype));
  std::forward<Fn>(fn)(*ctx.cuda);
  return true;
#else
  (void)dtype;
  (void)fn;
  (void)dtype_16bit;
  no_cuda_kernel(op);
#endif  // MASKLM_WITH_CUDA
}

// All tensors of an op live on the context's device.
inline void check_device(const Ctx& ctx, std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    MASKLM_CHECK(t->empty() || t->device == ctx.device, "{}: tensor on the wrong device", op);
}

}  // namespace masklm
