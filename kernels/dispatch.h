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

inline bool is_16bit(DType dtype) { return dtype == DType::BF16 || dtype == DType::F16; }

// The dtype of what an op keeps in full precision beside tensors of compute dtype `dtype`
// (LayerNorm mean/rstd, lse, losses, parameter gradients): F32 for BF16/F16
// (kernels/cuda/precision.h), otherwise the compute dtype itself.
inline DType accum_dtype(DType dtype) { return is_16bit(dtype) ? DType::F32 : dtype; }

// The compute dtypes an op's CUDA kernels take.
enum class CudaDTypes {
  F32,          // fp32 only (the default)
  F32_OR_16BIT, // F32, BF16 or F16: the kernels are templated on the storage type
  ONLY_16BIT,   // BF16 or F16 (the fused attention)
};

// On a GPU context, runs fn(CudaContext&) and returns true; on the CPU returns false, after
// checking that `dtype` (the op's compute dtype) is one its CUDA kernels take
// (kernels/cuda/precision.h). fn is a generic lambda calling into cuda::, so in a build
// without CUDA its body is never instantiated and only the declarations in
// kernels/cuda/*.cuh are needed.
template <typename Fn>
bool run_on_cuda(Ctx& ctx, DType dtype, const char* op, Fn&& fn, CudaDTypes takes = CudaDTypes::F32) {
  if (ctx.device != Device::CUDA) return false;
#if MASKLM_WITH_CUDA
  MASKLM_CHECK(ctx.cuda != nullptr, "{}: a CUDA Ctx needs its CudaContext (Ctx::cuda)", op);
  switch (takes) {
    case CudaDTypes::F32:
      MASKLM_CHECK(dtype == DType::F32, "{}: the CUDA backend computes this op in F32, got {}", op,
                   dtype_name(dtype));
      break;
    case CudaDTypes::F32_OR_16BIT:
      MASKLM_CHECK(dtype == DType::F32 || is_16bit(dtype),
                   "{}: the CUDA backend computes in F32, BF16 or F16, got {}", op, dtype_name(dtype));
      break;
    case CudaDTypes::ONLY_16BIT:
      MASKLM_CHECK(is_16bit(dtype), "{}: the 16-bit CUDA kernels compute in BF16 or F16, got {}", op,
                   dtype_name(dtype));
      break;
  }
  std::forward<Fn>(fn)(*ctx.cuda);
  return true;
#else
  (void)dtype;
  (void)fn;
  (void)takes;
  no_cuda_kernel(op);
#endif  // MASKLM_WITH_CUDA
}

// All tensors of an op live on the context's device.
inline void check_device(const Ctx& ctx, std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    MASKLM_CHECK(t->empty() || t->device == ctx.device, "{}: tensor on the wrong device", op);
}

}  // namespace masklm
