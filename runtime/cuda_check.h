// CUDA-side check macros. Each reports the failing expression and the library's own
// error string through masklm::Error (the CLI prints it; tests see it).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "runtime/error.h"

#define MASKLM_CHECK_STATUS(expr, ok, to_string)                                          \
  do {                                                                                    \
    const auto masklm_status_ = (expr);                                                   \
    if (masklm_status_ != (ok)) [[unlikely]]                                              \
      ::masklm::throw_check_failure(#expr, __FILE__, __LINE__, to_string(masklm_status_)); \
  } while (0)

#define CUDA_CHECK(expr) MASKLM_CHECK_STATUS(expr, cudaSuccess, cudaGetErrorString)
#define CUBLAS_CHECK(expr) MASKLM_CHECK_STATUS(expr, CUBLAS_STATUS_SUCCESS, cublasLtGetStatusString)
// After every kernel launch.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
