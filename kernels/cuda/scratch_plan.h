// One scratch request split into arrays: add() each array's size (remembering the offset),
// ask CudaContext::scratch(bytes) once, then at() each array from the base pointer. Host
// code only, so the kernels (through common.cuh) and host-compiled callers such as
// kernels/cuda/cudnn_attention.cpp share it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace masklm::cuda {

struct ScratchPlan {
  size_t bytes = 0;
  template <typename T> size_t add(int64_t count) {
    constexpr size_t kAlign = 256;  // what cuBLASLt and vector loads like best
    const size_t offset = (bytes + kAlign - 1) / kAlign * kAlign;
    bytes = offset + static_cast<size_t>(count) * sizeof(T);
    return offset;
  }
  template <typename T> static T* at(void* base, size_t offset) {
    return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
  }
};

}  // namespace masklm::cuda
