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

// The CUDA backend is filled in op by op; an op without a CUDA kernel says so clearly.
[[noreturn]] inline void no_cuda_kernel(const char* op) {
  MASKLM_FAIL("{}: no CUDA kernel in this build yet; run with --device cpu", op);
}

// All tensors of an op live on the context's device.
inline void check_device(const Ctx& ctx, std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    MASKLM_CHECK(t->empty() || t->device == ctx.device, "{}: tensor on the wrong device", op);
}

}  // namespace masklm
