#include "runtime/cuda_context.h"

#include "runtime/cuda_check.h"

namespace masklm {

CudaContext::CudaContext(int device_index) : device_index_(device_index) {
  CUDA_CHECK(cudaSetDevice(device_index_));
  // A blocking stream (not cudaStreamNonBlocking): cudaMemset/cudaMemcpy on the legacy
  // default stream (Arena::zero, plain copies) stay ordered with the ops on this stream.
  CUDA_CHECK(cudaStreamCreate(&stream_));
  CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
  CUDA_CHECK(cudaMalloc(&gemm_workspace_, kGemmWorkspaceBytes));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&error_flag_), sizeof(int)));
  CUDA_CHECK(cudaMemset(error_flag_, 0, sizeof(int)));
}

CudaContext::~CudaContext() {
  // Errors are ignored here: a destructor must not throw, and a failing free has no remedy.
  (void)cudaStreamSynchronize(stream_);
  (void)cudaFree(scratch_);
  (void)cudaFree(error_flag_);
  (void)cudaFree(gemm_workspace_);
  (void)cublasLtDestroy(cublaslt_);
  (void)cudaStreamDestroy(stream_);
}

void* CudaContext::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  CUDA_CHECK(cudaFree(scratch_));
  scratch_ = nullptr;
  // Round up to whole MiB so that sizes creeping up by a few bytes do not reallocate.
  constexpr size_t kGranule = size_t{1} << 20;
  const size_t rounded = (bytes + kGranule - 1) / kGranule * kGranule;
  CUDA_CHECK(cudaMalloc(&scratch_, rounded));
  scratch_bytes_ = rounded;
  return scratch_;
}

void CudaContext::synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  int flag = 0;
  CUDA_CHECK(cudaMemcpy(&flag, error_flag_, sizeof(int), cudaMemcpyDeviceToHost));
  if (flag == static_cast<int>(DeviceError::NONE)) return;
  CUDA_CHECK(cudaMemset(error_flag_, 0, sizeof(int)));
  switch (static_cast<DeviceError>(flag)) {
    case DeviceError::INDEX_OUT_OF_RANGE:
      MASKLM_FAIL("a CUDA op was given an index outside its table (a token, position or type "
                  "id, a label, or a gather/scatter row index); the batch is invalid");
    case DeviceError::BAD_CU_SEQLENS:
      MASKLM_FAIL("attention was given invalid cu_seqlens on the GPU: offsets must start at 0, "
                  "never decrease and end at the token count");
    default: MASKLM_FAIL("a CUDA kernel raised unknown error code {}", flag);
  }
}

}  // namespace masklm
