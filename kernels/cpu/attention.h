// CPU attention on unpadded variable-length sequences; the contract (layouts, dropout
// indexing) is in kernels/ops.h. Each (sequence, head) pair is one independent task, so
// the backward's dK/dV accumulation needs no atomics.
#pragma once

#include <cstdint>

#include "runtime/philox.h"

namespace masklm::cpu {

// out (N, C) = softmax(q k^T / sqrt(HS)) v per sequence and head, with dropout on the
// probabilities; lse (NH, N) keeps each query's log-sum-exp of the un-dropped scores.
// qkv (N, 3C); cu_seqlens (B + 1), already validated.
template <typename T>
void attention_forward(T* out, T* lse, const T* qkv, const int32_t* cu_seqlens, int64_t B,
                       int64_t N, int64_t C, int64_t NH, float dropout_p, const RngKey& key);

// dqkv (N, 3C) += gradient of the forward given dout (N, C), recomputing the
// probabilities from lse and the dropout mask from the key.
template <typename T> void attention_backward(T* dqkv, const T* dout, const T* out, const T* qkv,
                                              const T* lse, const int32_t* cu_seqlens, int64_t B,
                                              int64_t N, int64_t C, int64_t NH, float dropout_p,
                                              const RngKey& key);

}  // namespace masklm::cpu
