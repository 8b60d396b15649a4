// The codes of CudaContext's device-side error flag (runtime/cuda_context.h), in a header of
// their own so that code without the CUDA headers (tests/emulation) names the same values.
#pragma once

namespace masklm {

// What a kernel found wrong with its inputs (first one raised wins until reported).
enum class DeviceError : int {
  NONE = 0,
  INDEX_OUT_OF_RANGE = 1,  // a token/position/type id, row index or label outside its table
  BAD_CU_SEQLENS = 2,      // sequence offsets not starting at 0, decreasing, or not ending at N
};

}  // namespace masklm
