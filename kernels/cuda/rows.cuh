// CUDA row gathers and scatters; same contract as kernels/cpu/rows.h. Row indices are
// checked on the device: a bad one raises the CudaContext's error flag (reported by its
// next synchronize()) and its row is skipped. Rows travel as void pointers with their
// DType (F32, BF16 or F16).
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

// out[p] = in[index[p]]: out (P, C), in (N, C), index (P) in [0, N).
void gather_rows(CudaContext& cc, DType dtype, void* out, const void* in, const int32_t* index, int64_t P,
                 int64_t C, int64_t N);

// dst[index[p]] += src[p]: dst (N, C), src (P, C), index (P) in [0, N). Repeated indices
// accumulate in order of p, exactly like the CPU loop: the fp32 results are bitwise equal.
// A destination row's run is summed in fp32 and stored once; dst is either src's dtype or
// F32 (16-bit rows into an fp32 gradient).
void scatter_add_rows(CudaContext& cc, DType dst_dtype, void* dst, DType src_dtype, const void* src,
                      const int32_t* index, int64_t P, int64_t C, int64_t N);

}  // namespace masklm::cuda
