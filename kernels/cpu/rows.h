// Row gathers and scatters, and the column-blocked loop that makes reductions over rows
// deterministic: each thread owns a block of columns and walks every row in order, so no
// two threads write the same element and the summation order never depends on threading.
#pragma once

#include <algorithm>
#include <cstdint>

namespace masklm::cpu {

// 64 doubles of accumulators fit in registers/L1, and 64 floats span whole cache lines.
constexpr int64_t kColumnBlock = 64;

// Calls fn(c0, c1) for the column blocks [c0, c1) of C columns, blocks in parallel.
template <typename Fn> void parallel_column_blocks(int64_t C, Fn&& fn) {
  const int64_t blocks = (C + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) fn(b * kColumnBlock, std::min(C, (b + 1) * kColumnBlock));
}

// out[p] = in[index[p]]: out (P, C), in (N, C), index (P).
template <typename T>
void gather_rows(T* out, const T* in, const int32_t* index, int64_t P, int64_t C);

// dst[index[p]] += src[p]: dst (N, C), src (P, C), index (P). Repeated indices accumulate
// in order of p.
template <typename T>
void scatter_add_rows(T* dst, const T* src, const int32_t* index, int64_t P, int64_t C);

// dst[c] += sum over n of src[n, c]: src (N, C), dst (C); sums in double.
template <typename T> void add_column_sums(T* dst, const T* src, int64_t N, int64_t C);

}  // namespace masklm::cpu
