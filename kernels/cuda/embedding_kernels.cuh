// The kernels of embedding.cu, where the design is described, in a header so that
// tests/emulation also compiles them for the CPU (cuda_emulator.h).
#pragma once

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 128;

// grid (N, column tiles). Adds in the CPU's order ((token + position) + type): bitwise equal.
template <typename T>
__global__ void embedding_forward_kernel(T* out, const int32_t* tokens, const int32_t* positions,
                                         const int32_t* types, const T* wte, const T* wpe,
                                         const T* wtt, int64_t C, int64_t V, int64_t max_positions,
                                         int64_t type_vocab, int* error_flag) {
  const int64_t n = blockIdx.x, c = blockIdx.y * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const int32_t tok = tokens[n], pos = positions[n], typ = types ? types[n] : 0;
  if (tok < 0 || tok >= V || pos < 0 || pos >= max_positions ||
      (types && (typ < 0 || typ >= type_vocab))) {
    raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
    out[n * C + c] = from_float<T>(0.0f);
    return;
  }
  float sum = to_float(wte[tok * C + c]) + to_float(wpe[pos * C + c]);
  if (types) sum += to_float(wtt[typ * C + c]);
  out[n * C + c] = from_float<T>(sum);
}

}  // namespace
}  // namespace masklm::cuda
