// Deterministic column sums without atomics, in two stages: the rows are cut into chunks of
// kColumnSumChunkRows, each chunk adds its rows into one partial row (stage 1, chunks in
// parallel), then each column adds its partials in chunk order (stage 2). The chunking
// depends only on the row count, never on the GPU, so results are bitwise reproducible.
// Used for bias gradients (matmul, MLM head) and LayerNorm's weight/bias gradients.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace masklm {
class CudaContext;
}

namespace masklm::cuda {

constexpr int64_t kColumnSumChunkRows = 64;

// Number of partial rows for `rows` rows (at least 1, so the scratch is never empty).
inline int64_t column_sum_chunks(int64_t rows) {
  return rows <= 0 ? 1 : (rows + kColumnSumChunkRows - 1) / kColumnSumChunkRows;
}

// dst[c] += sum over r of src[r * ld + c]: src (rows, cols) of src_dtype (F32, BF16 or
// F16) with leading dimension ld, dst (cols) fp32, summed in fp32. partials is caller
// scratch of column_sum_chunks(rows) * cols floats.
void add_column_sums(CudaContext& cc, float* dst, DType src_dtype, const void* src, int64_t rows, int64_t cols,
                     int64_t ld, float* partials);

// Stage 2 alone, for callers with their own stage 1: dst[c] += sum over k, in order, of
// partials[k * cols + c] for k < chunks.
void add_partial_sums(CudaContext& cc, float* dst, const float* partials, int64_t chunks, int64_t cols);

}  // namespace masklm::cuda
