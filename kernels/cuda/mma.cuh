// Warp-level tensor-core and asynchronous-copy instructions as inline PTX (sm_80 and newer):
// mma.sync m16n8k16 with fp32 accumulators, ldmatrix.x4, and cp.async with zero fill.
// Which lane holds what is in kernels/cuda/mma_fragments.h. Device code: included by
// kernels/cuda/*.cu only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace masklm::cuda::mma {

// d += a b for one 16x8x16 tile (fragments as in mma_fragments.h); the operands' PTX type
// is the only difference between bf16 and f16.
#define MASKLM_MMA_16816(type)                                                \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." type "." type         \
               ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])               \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))
template <typename T16> __device__ __forceinline__ void mma_16816(float (&d)[4],
                                                                  const uint32_t (&a)[4],
                                                                  uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T16, __half>)
    MASKLM_MMA_16816("f16");
  else
    MASKLM_MMA_16816("bf16");
}
#undef MASKLM_MMA_16816

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8x8 matrices; `row` is this lane's row address (mma_fragments.h).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

// Two floats rounded to nearest even and packed as one A/B register (lo in the low half).
template <typename T16> __device__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return static_cast<uint32_t>(__bfloat16_as_ushort(v.x)) |
         static_cast<uint32_t>(__bfloat16_as_ushort(v.y)) << 16;
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return static_cast<uint32_t>(__half_as_ushort(v.x)) | static_cast<uint32_t>(__half_as_ushort(v.y))
                                                            << 16;
}

// 16 bytes from global to shared memory without passing through registers; with
// valid == false nothing is read (src must still be a valid address) and dst is zeroed.
// Visible to the issuing thread after cp_async_wait, to the block after a barrier.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)),
               "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
// Closes the group of copies issued since the last commit (an empty group is allowed).
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

}  // namespace masklm::cuda::mma
