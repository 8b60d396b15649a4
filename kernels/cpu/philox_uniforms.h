// Runs of Philox uniforms for the CPU kernels' dropout, which draws one per value. One
// scalar philox_block() per four values took 2.1 ns per value on one core; this computes
// sixteen blocks side by side in AVX2 where the CPU has it (0.95 ns). The values are exactly
// philox_uniform()'s, so masks stay those of the GPU kernels.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "runtime/philox.h"

namespace masklm::cpu {

// out[j] = philox_uniform(key, first + j) for j in [0, n); first + n at most 2^62.
void philox_uniforms(const RngKey& key, uint64_t first, int64_t n, float* out);

// The two implementations philox_uniforms() picks from, for tests: the scalar one, and the
// AVX2 one, which returns false without writing where the CPU (or the build) lacks AVX2.
void philox_uniforms_scalar(const RngKey& key, uint64_t first, int64_t n, float* out);
bool philox_uniforms_avx2(const RngKey& key, uint64_t first, int64_t n, float* out);

// Dropout's keep test, uniform >= p for p in [0, 1) (which the ops check), on the bit
// patterns: non-negative floats order as their bits. GCC keeps a float comparison a branch
// under -ftrapping-math, which mispredicts at random here; the integer one becomes a select
// and vectorizes.
inline bool dropout_keeps(float uniform, float p) {
  return std::bit_cast<int32_t>(uniform) >= std::bit_cast<int32_t>(p);
}

// Uniforms are made this many at a time into a buffer on the stack (4 KiB).
constexpr int64_t kUniformChunk = 1024;

// Calls fn(j, uniforms, count) for consecutive chunks of draws [first, first + n), where
// uniforms[k] = philox_uniform(key, first + j + k) for k in [0, count).
template <typename Fn>
void for_each_uniform_chunk(const RngKey& key, uint64_t first, int64_t n, Fn&& fn) {
  float uniforms[kUniformChunk];
  for (int64_t j = 0; j < n; j += kUniformChunk) {
    const int64_t count = std::min(kUniformChunk, n - j);
    philox_uniforms(key, first + static_cast<uint64_t>(j), count, uniforms);
    fn(j, static_cast<const float*>(uniforms), count);
  }
}

}  // namespace masklm::cpu
