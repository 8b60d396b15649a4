// A CPU emulation of the CUDA features the fused attention kernels use, so that
// kernels/cuda/flash_attention_kernels.cuh compiles with g++ and runs here: one std::thread
// per CUDA thread, barriers for __syncthreads and __syncwarp, and warp-wide exchanges for
// the collectives (shuffles, and ldmatrix / mma.sync in include/kernels/cuda/mma.cuh).
// Blocks run one after another, in launch order or reversed (a block that writes into
// another's rows is caught when the other runs first). It checks the kernels' indexing,
// tiling, barriers and cp.async groups on the CPU; it says nothing of speed, and fidelity
// stops at what the PTX ISA specifies (which lane holds what, when a copy lands). Limits:
// each warp collective also acts as a barrier and memory fence for its warp, which the
// hardware does not promise, so a missing __syncwarp around shared memory passed between
// lanes would go unnoticed; and a barrier missing before a copy into a buffer other warps
// still read is caught only when the threads' timing exposes it.
#pragma once

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(threads)

struct EmulatedDim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local EmulatedDim3 threadIdx, blockIdx;
inline EmulatedDim3 blockDim, gridDim;

namespace emulator {

constexpr int kWarpSize = 32;

// What the lanes of one warp hand each other in a collective.
struct Warp {
  std::barrier<> barrier{kWarpSize};
  const void* address[kWarpSize];
  uint32_t a[kWarpSize][4], b[kWarpSize][2];
  float value[kWarpSize];
};

struct Block {
  std::barrier<> barrier;
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<unsigned char> shared;  // all bits set: NaN in every float type
  Block(int threads, size_t shared_bytes) : barrier(threads), shared(shared_bytes, 0xFF) {
    for (int w = 0; w < threads / kWarpSize; ++w) warps.push_back(std::make_unique<Warp>());
  }
};

inline thread_local Block* current_block = nullptr;
inline Warp& warp() { return *current_block->warps[threadIdx.x / kWarpSize]; }
inline int lane() { return static_cast<int>(threadIdx.x) % kWarpSize; }

// A broken promise of the kernel (an unaligned or out-of-bounds shared-memory access)
// ends the run: the hardware would fault or corrupt memory.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "cuda_emulator: %s (block %u,%u thread %u)\n", what, blockIdx.x,
               blockIdx.y, threadIdx.x);
  std::abort();
}
// Whether the `bytes` at p lie in the block's shared memory and start 16-byte aligned.
inline bool shared_aligned_16(const void* p, size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  const auto& shared = current_block->shared;
  return b >= shared.data() && b + bytes <= shared.data() + shared.size() &&
         reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

// When cp.async copies land: at the cp_async_wait that retires their group (LAZY: a read
// before the wait sees stale data) or when issued (EAGER: a copy issued while another warp
// still reads the buffer overwrites it early).
enum class CopyTiming { LAZY, EAGER };

// How the emulation orders what CUDA leaves unordered; a correct kernel passes under every
// schedule.
struct Schedule {
  CopyTiming copies = CopyTiming::LAZY;
  bool reverse_blocks = false;
};
inline Schedule schedule;

struct AsyncCopy {
  void* dst;
  const void* src;
  bool valid;
};
inline thread_local std::vector<AsyncCopy> open_copies;
inline thread_local std::deque<std::vector<AsyncCopy>> committed_copies;

// Runs kernel(args...) over grid (x, y) blocks of `threads` threads with `shared_bytes` of
// dynamic shared memory.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), EmulatedDim3 grid, int threads, size_t shared_bytes,
            Args... args) {
  blockDim = {static_cast<unsigned>(threads), 1, 1};
  gridDim = grid;
  for (unsigned n = 0; n < grid.x * grid.y; ++n) {
    const unsigned b = schedule.reverse_blocks ? grid.x * grid.y - 1 - n : n;
    const unsigned bx = b % grid.x, by = b / grid.x;
    Block block(threads, shared_bytes);
    std::vector<std::thread> cuda_threads;
    for (int t = 0; t < threads; ++t)
      cuda_threads.emplace_back([&, t] {
        current_block = &block;
        threadIdx = {static_cast<unsigned>(t), 0, 0};
        blockIdx = {bx, by, 0};
        open_copies.clear();
        committed_copies.clear();
        kernel(static_cast<Params>(args)...);
      });
    for (auto& t : cuda_threads) t.join();
  }
}

}  // namespace emulator

inline void __syncthreads() { emulator::current_block->barrier.arrive_and_wait(); }
inline void __syncwarp() { emulator::warp().barrier.arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned /*mask: the kernels pass the whole warp*/, float v,
                             int lane_mask) {
  emulator::Warp& w = emulator::warp();
  w.value[emulator::lane()] = v;
  w.barrier.arrive_and_wait();
  const float other = w.value[emulator::lane() ^ lane_mask];
  w.barrier.arrive_and_wait();
  return other;
}

inline int atomicCAS(int* address, int expected, int desired) {
  std::atomic_ref<int>(*address).compare_exchange_strong(expected, desired);
  return expected;
}

[[noreturn]] inline void __trap() { std::abort(); }
