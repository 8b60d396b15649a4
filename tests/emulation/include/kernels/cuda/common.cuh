// The emulation's stand-in for kernels/cuda/common.cuh: the device helpers the kernels
// share (kernels/cuda/device_common.cuh, compiled as they are) on top of cuda_emulator.h,
// and the block's dynamic shared memory from the emulator. Found before the real header
// because tests/emulation/include comes first on the include path.
#pragma once

#include "cuda_emulator.h"
#include "kernels/cuda/device_common.cuh"

namespace masklm::cuda {

inline unsigned char* dynamic_shared_memory() { return emulator::current_block->shared.data(); }

}  // namespace masklm::cuda
