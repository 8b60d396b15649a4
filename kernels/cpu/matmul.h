// A linear layer on OpenBLAS GEMMs, weights in PyTorch's (out, in) layout.
#pragma once

#include <cstdint>

namespace masklm::cpu {

// out (N, O) = in (N, I) @ weight (O, I)^T + bias (O); bias may be null.
template <typename T>
void matmul_forward(T* out, const T* in, const T* weight, const T* bias, int64_t N, int64_t I,
                    int64_t O);

// Accumulates (+=) into each non-null gradient: din (N, I), dweight (O, I), dbias (O).
template <typename T>
void matmul_backward(T* din, T* dweight, T* dbias, const T* dout, const T* in, const T* weight,
                     int64_t N, int64_t I, int64_t O);

}  // namespace masklm::cpu
