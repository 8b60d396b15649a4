// LayerNorm over the last dimension. Statistics are accumulated in double for both dtypes.
#pragma once

#include <cstdint>

namespace masklm::cpu {

// out = (in - mean) * rstd * weight + bias; saves mean and rstd for the backward.
// out, in (N, C); mean, rstd (N); weight, bias (C). out may alias in.
template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* in, const T* weight, const T* bias,
                       int64_t N, int64_t C, double eps);

// Accumulates (+=) into each non-null gradient: din (N, C), dweight, dbias (C).
template <typename T>
void layernorm_backward(T* din, T* dweight, T* dbias, const T* dout, const T* in,
                        const T* weight, const T* mean, const T* rstd, int64_t N, int64_t C);

}  // namespace masklm::cpu
