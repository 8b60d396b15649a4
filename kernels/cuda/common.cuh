// What the CUDA kernels and their launchers share: the device helpers of
// kernels/cuda/device_common.cuh, the block's dynamic shared memory, launching, raising its
// shared memory limit, and splitting one scratch request into typed arrays
// (kernels/cuda/scratch_plan.h). Device code: included by kernels/cuda/*.cu and
// *_kernels.cuh only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/scratch_plan.h"
#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"

namespace masklm::cuda {

// The block's dynamic shared memory (the launch's third argument), 128-byte aligned.
__device__ __forceinline__ unsigned char* dynamic_shared_memory() {
  extern __shared__ __align__(128) unsigned char dynamic_smem[];
  return dynamic_smem;
}

// kernel<<<grid, block, smem, stream>>>(args...): the launchers' one way to launch, so that
// the CPU emulation (tests/emulation/include/kernels/cuda/common.cuh) runs them as they are.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                   cudaStream_t stream, Args... args) {
  kernel<<<grid, block, smem, stream>>>(args...);
}

// Raises a kernel's dynamic shared memory limit when it needs more than the default 48 KiB.
template <typename Kernel> void set_max_dynamic_smem(Kernel kernel, size_t bytes) {
  constexpr size_t kDefaultLimit = size_t{48} << 10;
  if (bytes > kDefaultLimit)
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(bytes)));
}

}  // namespace masklm::cuda
