// The storage types of the CUDA kernels, per kernels/cuda/precision.h: float, and
// __nv_bfloat16 / __half for activations and compute weights. A kernel templated on the
// storage type T loads with to_float, computes and accumulates in fp32, and stores with
// from_float<T> (one round-to-nearest per element). For float both are the identity, so a
// kernel's fp32 instance (with W = 1 where it takes packs) computes exactly what it did
// before it was templated. Kernels load scalars, so any row length C works, odd ones
// included; the bandwidth-bound ones also have a packed instance (Pack below) for rows of
// whole 16-byte packs. Device code: included by kernels/cuda/*.cu, the kernels headers and
// the CPU emulation's tests (tests/emulation).
#pragma once

#include <cstdint>

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

// W consecutive values of T that a thread loads or stores with one instruction: a 16-byte
// vector access for W = kPackWidth<T> (the address must then be 16-byte aligned), a plain
// scalar for W = 1.
template <typename T> constexpr int kPackWidth = 16 / static_cast<int>(sizeof(T));
template <typename T, int W> struct alignas(sizeof(T) * W) Pack { T v[W]; };

template <typename T, int W> __device__ __forceinline__ void load_pack(float (&x)[W], const T* p) {
  static_assert(sizeof(Pack<T, W>) == sizeof(T) * W, "a pack is its values, no padding");
  const Pack<T, W> pack = *reinterpret_cast<const Pack<T, W>*>(p);
#pragma unroll
  for (int i = 0; i < W; ++i) x[i] = to_float(pack.v[i]);
}
template <typename T, int W> __device__ __forceinline__ void store_pack(T* p, const float (&x)[W]) {
  Pack<T, W> pack;
#pragma unroll
  for (int i = 0; i < W; ++i) pack.v[i] = from_float<T>(x[i]);
  *reinterpret_cast<Pack<T, W>*>(p) = pack;
}

// Whether rows of C values of T starting at each pointer can be read in 16-byte packs: C a
// multiple of kPackWidth<T> (so every row starts aligned) and every pointer 16-byte aligned.
template <typename T, typename... Ptrs> bool rows_fit_packs(int64_t C, const Ptrs*... rows) {
  return C % kPackWidth<T> == 0 && ((reinterpret_cast<uintptr_t>(rows) % 16 == 0) && ...);
}

// Calls fn.template operator()<W>() with W = kPackWidth<T> when `packed`, else W = 1.
template <typename T, typename Fn> void with_pack_width(bool packed, Fn&& fn) {
  if (packed)
    fn.template operator()<kPackWidth<T>>();
  else
    fn.template operator()<1>();
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
