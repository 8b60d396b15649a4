// The emulation's kernels/cuda/mma.cuh (cuda_emulator.h): the same functions, each lane's
// values decoded from the PTX ISA's tables written out here on their own terms, not
// through kernels/cuda/mma_fragments.h, which this is meant to check.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_emulator.h"
#include "cuda_fp16.h"

namespace masklm::cuda::mma {

template <typename T16> float widen(uint16_t bits) {
  return std::is_same_v<T16, __half> ? f16_to_float(bits) : bf16_to_float(bits);
}
template <typename T16> uint16_t round_to(float x) {
  return std::is_same_v<T16, __half> ? float_to_f16(x) : float_to_bf16(x);
}
inline uint16_t half_of(uint32_t reg, int high) {
  return static_cast<uint16_t>(high ? reg >> 16 : reg & 0xFFFFu);
}

// mma.m16n8k16, D = A B + C. The ISA's tables, with g = lane / 4 and t = lane % 4:
// A: registers a0..a7 (two per 32-bit register) of lane (g, t) hold row g (a0, a1, a4, a5)
//    or g + 8 (a2, a3, a6, a7), columns 2t + (0, 1) (a0..a3) or 2t + 8 + (0, 1) (a4..a7);
// B: b0, b1 hold rows 2t + (0, 1) and b2, b3 rows 2t + 8 + (0, 1), column g;
// C, D: c0, c1 row g and c2, c3 row g + 8, columns 2t + (0, 1).
template <typename T16>
void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  emulator::Warp& w = emulator::warp();
  const int l = emulator::lane();
  std::memcpy(w.a[l], a, sizeof a);
  w.b[l][0] = b0;
  w.b[l][1] = b1;
  const uint64_t call = ++w.mma_calls[l];
  w.barrier.arrive_and_wait();
  emulator::require(emulator::whole_warp(w), "mma.sync with lanes that have exited");
  if (w.mma_decoded != call) {  // the first lane past the barrier decodes for the warp
    for (int lane = 0; lane < emulator::kWarpSize; ++lane) {
      const int g = lane / 4, t = lane % 4;
      for (int e = 0; e < 8; ++e) {  // a_e is half e % 2 of register e / 2
        const int row = g + ((e / 2) % 2 == 1 ? 8 : 0), col = 2 * t + e % 2 + (e >= 4 ? 8 : 0);
        w.A[row][col] = widen<T16>(half_of(w.a[lane][e / 2], e % 2));
      }
      for (int e = 0; e < 4; ++e)
        w.B[2 * t + e % 2 + (e >= 2 ? 8 : 0)][g] = widen<T16>(half_of(w.b[lane][e / 2], e % 2));
    }
    w.mma_decoded = call;
  }
  const int g = l / 4, t = l % 4;
  for (int v = 0; v < 4; ++v) {
    const int row = g + (v >= 2 ? 8 : 0), col = 2 * t + v % 2;
    double sum = 0;  // tensor cores add exact products in (at least) fp32
    for (int k = 0; k < 16; ++k) sum += static_cast<double>(w.A[row][k]) * w.B[k][col];
    d[v] = static_cast<float>(d[v] + sum);
  }
  // Every lane past the checks above before any moves on (and may exit, or start the
  // next mma, which decodes over A and B).
  w.barrier.arrive_and_wait();
}

// ldmatrix.x4: lanes 8m..8m+7 give the addresses of matrix m's eight rows; register m of
// lane l receives row l / 4, elements 2 (l % 4) and 2 (l % 4) + 1, or with .trans element
// l / 4 of rows 2 (l % 4) and 2 (l % 4) + 1.
inline void ldmatrix(uint32_t (&r)[4], const void* row, bool trans) {
  emulator::require(emulator::shared_aligned_16(row, 16),
                    "ldmatrix row address outside shared memory or not 16-byte aligned");
  emulator::note_read(row);
  emulator::Warp& w = emulator::warp();
  const int l = emulator::lane();
  w.address[l] = row;
  w.barrier.arrive_and_wait();
  emulator::require(emulator::whole_warp(w), "ldmatrix with lanes that have exited");
  auto element = [&](int lane, int i) { return static_cast<const uint16_t*>(w.address[lane])[i]; };
  for (int m = 0; m < 4; ++m) {
    const uint16_t lo =
        trans ? element(8 * m + 2 * (l % 4), l / 4) : element(8 * m + l / 4, 2 * (l % 4));
    const uint16_t hi =
        trans ? element(8 * m + 2 * (l % 4) + 1, l / 4) : element(8 * m + l / 4, 2 * (l % 4) + 1);
    r[m] = lo | static_cast<uint32_t>(hi) << 16;
  }
  w.barrier.arrive_and_wait();
}
inline void ldmatrix_x4(uint32_t (&r)[4], const void* row) { ldmatrix(r, row, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) { ldmatrix(r, row, true); }

template <typename T16> uint32_t pack2(float lo, float hi) {
  return round_to<T16>(lo) | static_cast<uint32_t>(round_to<T16>(hi)) << 16;
}

inline void run_copy(const emulator::AsyncCopy& c) {
  if (c.valid)
    std::memcpy(c.dst, c.src, 16);
  else
    std::memset(c.dst, 0, 16);
}
inline void cp_async_16(void* dst, const void* src, bool valid) {
  emulator::require(emulator::shared_aligned_16(dst, 16),
                    "cp.async destination outside shared memory or not 16-byte aligned");
  emulator::require(reinterpret_cast<uintptr_t>(src) % 16 == 0,
                    "cp.async source not 16-byte aligned");
  emulator::note_copy_issued(dst);
  if (emulator::schedule.copies == emulator::CopyTiming::EAGER) run_copy({dst, src, valid});
  emulator::thread_copies().open.push_back({dst, src, valid});  // a wait still retires it
}
inline void cp_async_commit() {
  emulator::ThreadCopies& copies = emulator::thread_copies();
  copies.committed.push_back(std::move(copies.open));
  copies.open.clear();
}
template <int kPending> void cp_async_wait() {
  emulator::ThreadCopies& copies = emulator::thread_copies();
  while (copies.committed.size() > static_cast<size_t>(kPending)) {
    for (const auto& c : copies.committed.front()) {
      if (emulator::schedule.copies == emulator::CopyTiming::LAZY) run_copy(c);
      emulator::note_copy_waited(c.dst);
    }
    copies.committed.erase(copies.committed.begin());
  }
}

}  // namespace masklm::cuda::mma
