// The emulation's stand-in for kernels/cuda/common.cuh: the device helpers the kernels
// share (kernels/cuda/device_common.cuh, compiled as they are) on top of cuda_emulator.h,
// the block's dynamic shared memory from the emulator, and launching through it, so the
// launchers of kernels/cuda/*.cu run as they are. Found before the real header because
// tests/emulation/include comes first on the include path.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda_emulator.h"
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/scratch_plan.h"
#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"

namespace masklm::cuda {

inline unsigned char* dynamic_shared_memory() { return emulator::current_block->shared.data(); }

// The launch is stream work (emulator_streams.h): run now, or when the stream is made to;
// its shape is checked now, where the launcher can be found.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                   cudaStream_t stream, Args... args) {
  emulator::require(block.y == 1 && block.z == 1 && grid.z == 1,
                    "the emulation runs 1-D blocks on a 2-D grid");
  emulator::require_block_size(static_cast<int>(block.x));
  emulator::require(
      smem <=
          static_cast<size_t>(emulator::dynamic_smem_limit(reinterpret_cast<const void*>(kernel))),
      "launch with more dynamic shared memory than cudaFuncSetAttribute allowed the kernel");
  emulator::streams.enqueue(
      stream, [=] { emulator::launch(kernel, grid, static_cast<int>(block.x), smem, args...); });
}

template <typename Kernel> void set_max_dynamic_smem(Kernel kernel, size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
}

}  // namespace masklm::cuda
