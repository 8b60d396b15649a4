// Token + position (+ type) embeddings. Ids are validated by the entry point (ops_dense.cpp).
#pragma once

#include <cstdint>

namespace masklm::cpu {

// out[n] = wte[tokens[n]] + wpe[positions[n]] (+ wtt[types[n]] when types is non-null).
// out (N, C); tokens, positions, types (N); wte (V, C); wpe (max_positions, C); wtt (type_vocab, C).
template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const int32_t* positions,
                       const int32_t* types, const T* wte, const T* wpe, const T* wtt, int64_t N,
                       int64_t C);

// Accumulates (+=) dout into the rows of every non-null table gradient; deterministic.
template <typename T>
void embedding_backward(T* dwte, T* dwpe, T* dwtt, const T* dout, const int32_t* tokens,
                        const int32_t* positions, const int32_t* types, int64_t N, int64_t C);

}  // namespace masklm::cpu
