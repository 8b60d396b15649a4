// CudaContext: what the CUDA ops on one GPU share. Ops reach it through Ctx::cuda.
//  - one stream: every kernel, GEMM and copy of a context runs on it, in program order;
//  - a cuBLASLt handle, one workspace allocated at construction, and the algorithm that
//    cuBLASLt's heuristic picked for each GEMM shape (asked once per shape, then reused, so
//    a shape always runs the same algorithm and results are reproducible);
//  - page-locked host memory that batches are uploaded through, so the host queues a
//    batch's copies and goes on while the GPU still computes on the last one;
//  - op scratch that grows to the largest size any op asked for and is then reused; a
//    model reserves it for its largest batch at start-up (MlmModel::reserve_device_memory),
//    so no training step allocates (cuDNN's attention aside: a new padded shape may);
//  - the state of an optional library (cuDNN's handle and attention graphs), made on first
//    use, so a context that never asks for it never initializes the library;
//  - a device-side error flag: kernels that find bad input (an id out of range, bad
//    sequence offsets) raise it instead of touching memory out of bounds, and the next
//    synchronize() throws masklm::Error for it.
// Only .cu files and GPU tests include this header (it needs the CUDA headers).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "runtime/device.h"
#include "runtime/device_error.h"

namespace masklm {

// Everything cuBLASLt's algorithm choice depends on: operand dtypes, operations, sizes,
// leading dimensions, epilogue and pointer alignments.
using GemmShapeKey = std::array<int64_t, 15>;

class CudaContext {
 public:
  explicit CudaContext(int device_index = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device_index() const { return device_index_; }
  int sm_major() const { return sm_major_; }  // compute capability, queried once
  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
  void* gemm_workspace() const { return gemm_workspace_; }
  size_t gemm_workspace_bytes() const { return kGemmWorkspaceBytes; }
  // The algorithm chosen per shape; none where cuBLASLt had none, so gemm() goes straight
  // to its fallback (the bias copied into c first, or the simple kernel).
  std::map<GemmShapeKey, std::optional<cublasLtMatmulAlgo_t>>& gemm_algorithms() {
    return gemm_algorithms_;
  }

  // Device scratch of at least `bytes` for one op call. Valid until the next scratch()
  // call, so an op asks once for everything it needs. Growing synchronizes the stream
  // first (earlier ops may still be using the old buffer).
  void* scratch(size_t bytes);
  // Device buffer `slot` of at least `bytes`: the fp32 copies an op's 16-bit tensors get
  // when an fp32 kernel runs on them (kernels/f32_views.h). Apart from scratch(), so the
  // kernel may still ask for its own; valid until the next staging() of the same slot.
  // Growing synchronizes the stream first.
  void* staging(size_t slot, size_t bytes);
  // Queues the copies on the stream, after the work queued before, and returns without
  // waiting for them: the sources are first copied into page-locked host memory (a copy
  // from pageable memory waits for the stream's earlier work, which would drain the GPU
  // before every batch), so the caller may reuse them at once. Uploads take turns between
  // two such buffers, and one waits (an event) only for the copies of the upload before
  // the last: a forward's uploads (a batch's arrays, the skip-corrupted split) never wait
  // for the GPU's current work. Each buffer grows to the largest upload asked for.
  void upload(std::span<const HostToDevice> copies);
  // Grows both page-locked buffers to `bytes` now, where they have less.
  void reserve_upload(size_t bytes);

  // The most bytes asked of scratch(), of each upload() buffer and of each staging() slot
  // so far, in that order (tests: once a model has reserved its memory,
  // MlmModel::reserve_device_memory, no step asks for more, so none allocates; buffers grow
  // in whole MiB, so counting allocations would not show a small model's shortfall).
  std::vector<size_t> largest_requests() const;

  // What an optional library keeps per context; owned here, destroyed before the stream.
  struct Extension {
    virtual ~Extension() = default;
  };
  // cuDNN's state (kernels/cuda/cudnn_attention.cpp); null until that first runs.
  std::unique_ptr<Extension>& cudnn_state() { return cudnn_state_; }

  int* error_flag() const { return error_flag_; }
  // Waits for all work on the stream; throws masklm::Error when a kernel raised the error
  // flag since the last call (and clears it).
  void synchronize();

 private:
  // 32 MiB: what cuBLAS recommends for Hopper; enough for every algorithm on older GPUs.
  static constexpr size_t kGemmWorkspaceBytes = size_t{32} << 20;

  int device_index_ = 0;
  int sm_major_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  void* gemm_workspace_ = nullptr;
  struct Buffer {
    void* data = nullptr;
    size_t bytes = 0;
    size_t largest_request = 0;
  };
  // Device `buffer` with room for `bytes`: reallocated, in whole MiB, where it has less.
  void* reserve(Buffer& buffer, size_t bytes);

  Buffer scratch_;
  std::vector<Buffer> staging_;
  // upload()'s page-locked host memory, and the event recorded after its last copies.
  struct UploadStaging {
    Buffer pinned;
    cudaEvent_t copied = nullptr;
  };
  // Page-locked `staging` with room for `bytes`, once its last copies have read it.
  void* reserve(UploadStaging& staging, size_t bytes);

  std::array<UploadStaging, 2> uploads_;
  size_t next_upload_ = 0;  // uploads_ slot of the next upload()
  std::unique_ptr<Extension> cudnn_state_;
  int* error_flag_ = nullptr;
  std::map<GemmShapeKey, std::optional<cublasLtMatmulAlgo_t>> gemm_algorithms_;
};

}  // namespace masklm
