// CPU sparse MLM head: logits of the P predicted rows against the tied embedding plus bias,
// and their cross-entropy, computed chunk_size vocabulary entries at a time so that no
// (P, V) buffer exists (contract in kernels/ops.h).
#pragma once

#include <cstdint>

namespace masklm::cpu {

// losses, lse (P); correct (P) may be null; h (P, C); emb (V, C); bias (V) may be null;
// labels (P) in [0, V), already validated.
template <typename T> void mlm_xent_forward(T* losses, T* lse, int32_t* correct, const T* h,
                                            const T* emb, const T* bias, const int32_t* labels,
                                            int64_t P, int64_t C, int64_t V, int64_t chunk_size);

// Accumulates (+=) the gradients of sum_p loss_scale * losses[p] into each non-null
// gradient: dh (P, C), demb (V, C), dbias (V). Scratch is (P, chunk_size).
template <typename T> void mlm_xent_backward(T* dh, T* demb, T* dbias, const T* h, const T* emb,
                                             const T* bias, const int32_t* labels, const T* lse,
                                             int64_t P, int64_t C, int64_t V, T loss_scale,
                                             int64_t chunk_size);

}  // namespace masklm::cpu
