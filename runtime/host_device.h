// MASKLM_HD marks a small function that host and device code both call (Philox, the
// tensor-core fragment layouts); it is plain `inline` where nvcc does not compile the file.
#pragma once

#if defined(__CUDACC__)
#define MASKLM_HD __host__ __device__ __forceinline__
#else
#define MASKLM_HD inline
#endif
