// CPU thread count for masklm's OpenMP regions (OpenBLAS runs single-threaded inside them,
// see kernels/cpu/gemm_tiles.h). Defaults to OMP_NUM_THREADS or all cores.
#pragma once

namespace masklm {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

}  // namespace masklm
