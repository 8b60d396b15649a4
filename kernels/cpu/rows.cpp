#include "kernels/cpu/rows.h"

#include <algorithm>

namespace masklm::cpu {

template <typename T>
void gather_rows(T* out, const T* in, const int32_t* index, int64_t P, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) std::copy_n(in + index[p] * C, C, out + p * C);
}

template <typename T>
void scatter_add_rows(T* dst, const T* src, const int32_t* index, int64_t P, int64_t C) {
  parallel_column_blocks(C, [&](int64_t c0, int64_t c1) {
    for (int64_t p = 0; p < P; ++p) {
      T* d = dst + index[p] * C;
      const T* s = src + p * C;
      for (int64_t c = c0; c < c1; ++c) d[c] += s[c];
    }
  });
}

template <typename T> void add_column_sums(T* dst, const T* src, int64_t N, int64_t C) {
  parallel_column_blocks(C, [&](int64_t c0, int64_t c1) {
    double sums[kColumnBlock] = {};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = c0; c < c1; ++c) sums[c - c0] += src[n * C + c];
    for (int64_t c = c0; c < c1; ++c) dst[c] += static_cast<T>(sums[c - c0]);
  });
}

#define MASKLM_INSTANTIATE(T)                                                          \
  template void gather_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);        \
  template void scatter_add_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);   \
  template void add_column_sums<T>(T*, const T*, int64_t, int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
