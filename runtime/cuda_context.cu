#include "runtime/cuda_context.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "runtime/cuda_check.h"

namespace masklm {

CudaContext::CudaContext(int device_index) : device_index_(device_index) {
  CUDA_CHECK(cudaSetDevice(device_index_));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_major_, cudaDevAttrComputeCapabilityMajor, device_index_));
  // A blocking stream (not cudaStreamNonBlocking): cudaMemset/cudaMemcpy on the legacy
  // default stream (Arena::zero, plain copies) stay ordered with the ops on this stream.
  CUDA_CHECK(cudaStreamCreate(&stream_));
  CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
  CUDA_CHECK(cudaMalloc(&gemm_workspace_, kGemmWorkspaceBytes));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&error_flag_), sizeof(int)));
  CUDA_CHECK(cudaMemset(error_flag_, 0, sizeof(int)));
  for (UploadStaging& u : uploads_)
    CUDA_CHECK(cudaEventCreateWithFlags(&u.copied, cudaEventDisableTiming));
}

CudaContext::~CudaContext() {
  // Errors are ignored here: a destructor must not throw, and a failing free has no remedy.
  (void)cudaStreamSynchronize(stream_);
  cudnn_state_.reset();  // its handle uses the stream
  (void)cudaFree(scratch_.data);
  for (const Buffer& b : staging_) (void)cudaFree(b.data);
  for (const UploadStaging& u : uploads_) {
    (void)cudaFreeHost(u.pinned.data);
    (void)cudaEventDestroy(u.copied);
  }
  (void)cudaFree(error_flag_);
  (void)cudaFree(gemm_workspace_);
  (void)cublasLtDestroy(cublaslt_);
  (void)cudaStreamDestroy(stream_);
}

void* CudaContext::reserve(Buffer& buffer, size_t bytes) {
  buffer.largest_request = std::max(buffer.largest_request, bytes);
  if (bytes <= buffer.bytes) return buffer.data;
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // earlier ops may still use the old buffer
  CUDA_CHECK(cudaFree(buffer.data));
  buffer.data = nullptr;
  buffer.bytes = 0;
  // Round up to whole MiB so that sizes creeping up by a few bytes do not reallocate.
  constexpr size_t kGranule = size_t{1} << 20;
  const size_t rounded = (bytes + kGranule - 1) / kGranule * kGranule;
  CUDA_CHECK(cudaMalloc(&buffer.data, rounded));
  buffer.bytes = rounded;
  return buffer.data;
}

void* CudaContext::scratch(size_t bytes) { return reserve(scratch_, bytes); }

void* CudaContext::staging(size_t slot, size_t bytes) {
  if (staging_.size() <= slot) staging_.resize(slot + 1);
  return reserve(staging_[slot], bytes);
}

void* CudaContext::reserve(UploadStaging& staging, size_t bytes) {
  Buffer& b = staging.pinned;
  b.largest_request = std::max(b.largest_request, bytes);
  CUDA_CHECK(cudaEventSynchronize(staging.copied));  // its last copies have read it
  if (bytes <= b.bytes) return b.data;
  CUDA_CHECK(cudaFreeHost(b.data));
  b.data = nullptr;
  b.bytes = 0;
  CUDA_CHECK(cudaMallocHost(&b.data, bytes));
  b.bytes = bytes;
  return b.data;
}

void CudaContext::reserve_upload(size_t bytes) {
  for (UploadStaging& u : uploads_) reserve(u, bytes);
}

void CudaContext::upload(std::span<const HostToDevice> copies) {
  size_t total = 0;
  for (const HostToDevice& c : copies) total += c.bytes;
  UploadStaging& staging = uploads_[next_upload_];
  next_upload_ = (next_upload_ + 1) % uploads_.size();
  auto* staged = static_cast<std::byte*>(reserve(staging, total));
  for (const HostToDevice& c : copies) {
    if (c.bytes == 0) continue;
    std::memcpy(staged, c.src, c.bytes);
    CUDA_CHECK(cudaMemcpyAsync(c.dst, staged, c.bytes, cudaMemcpyHostToDevice, stream_));
    staged += c.bytes;
  }
  CUDA_CHECK(cudaEventRecord(staging.copied, stream_));
}

std::vector<size_t> CudaContext::largest_requests() const {
  std::vector<size_t> out{scratch_.largest_request};
  for (const UploadStaging& u : uploads_) out.push_back(u.pinned.largest_request);
  for (const Buffer& b : staging_) out.push_back(b.largest_request);
  return out;
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
