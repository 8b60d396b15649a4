// CUDA row gathers and scatters; same contract as kernels/cpu/rows.h. Row indices are
// checked on the device: a bad one raises the CudaContext's error flag (reported by its
// next synchronize()) and its row is skipped.
#pragma once

#include <cstdint>

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out[p] = in[index[p]]: out (P, C), in (N, C), index (P) in [0, N).
void gather_rows(CudaContext& cc, float* out, const float* in, const int32_t* index, int64_t P, int64_t C,
                 int64_t N);

// dst[index[p]] += src[p]: dst (N, C), src (P, C), index (P) in [0, N). Repeated indices
// accumulate in order of p, exactly like the CPU loop: the results are bitwise equal.
void scatter_add_rows(CudaContext& cc, float* dst, const float* src, const int32_t* index, int64_t P, int64_t C,
                      int64_t N);

}  // namespace masklm::cuda
