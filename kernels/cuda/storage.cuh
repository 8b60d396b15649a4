// The storage types of the CUDA kernels, per kernels/cuda/precision.h: float, and
// __nv_bfloat16 / __half for activations and compute weights. A kernel templated on the
// storage type T loads with to_float, computes and accumulates in fp32, and stores with
// from_float<T> (one round-to-nearest per element). For float both are the identity, so a
// kernel's fp32 instance computes exactly what it did before it was templated. Kernels load
// scalars (no 16-bit vector loads), so any row length C works, odd ones included.
// Device code: included by kernels/cuda/*.cu only.
#pragma once

#include "kernels/cuda/precision.h"
#include "runtime/error.h"

namespace masklm::cuda {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <> __device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

// Calls fn.template operator()<T>() with T the storage type of dtype (F32, BF16 or F16).
template <typename Fn> void dispatch_storage(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::F32: fn.template operator()<float>(); return;
    case DType::BF16: fn.template operator()<__nv_bfloat16>(); return;
    case DType::F16: fn.template operator()<__half>(); return;
    default:
      MASKLM_FAIL("{}: the CUDA kernels store F32, BF16 or F16, got {}", op, dtype_name(dtype));
  }
}

}  // namespace masklm::cuda
