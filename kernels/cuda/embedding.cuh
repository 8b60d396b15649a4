// CUDA token + position (+ type) embeddings; same contract as kernels/cpu/embedding.h. Ids
// are checked on the device (a bad one raises the CudaContext's error flag). out, dout and
// the tables hold `dtype` values (F32, BF16 or F16); the table gradients are fp32.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out[n] = wte[tokens[n]] + wpe[positions[n]] (+ wtt[types[n]] when types is non-null).
// wte (V, C), wpe (max_positions, C), wtt (type_vocab, C).
void embedding_forward(CudaContext& cc, DType dtype, void* out, const int32_t* tokens, const int32_t* positions,
                       const int32_t* types, const void* wte, const void* wpe, const void* wtt, int64_t N,
                       int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab);

// Accumulates (+=) dout into the rows of every non-null table gradient; deterministic and
// bitwise equal to the CPU (each table is a scatter_add_rows, kernels/cuda/rows.cuh).
void embedding_backward(CudaContext& cc, DType dtype, float* dwte, float* dwpe, float* dwtt, const void* dout,
                        const int32_t* tokens, const int32_t* positions, const int32_t* types, int64_t N,
                        int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab);

}  // namespace masklm::cuda
