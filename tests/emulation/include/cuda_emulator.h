// A CPU emulation of the CUDA features the kernels of kernels/cuda use, so that their
// kernel headers (kernels/cuda/*_kernels.cuh) compile with g++ and run here: a block's CUDA
// threads as fibers on the launching thread (emulator_fibers.h), barriers for __syncthreads
// and __syncwarp, warp-wide exchanges for the collectives (shuffles, and ldmatrix /
// mma.sync in include/kernels/cuda/mma.cuh), static __shared__ arrays and dynamic shared
// memory. Blocks run one after another, in launch order or reversed (a block that writes
// into another's rows is caught when the other runs first); within a block, threads run in
// index order or reversed, each until it waits (see Schedule). It checks the kernels'
// indexing, tiling, barriers and cp.async groups on the CPU; it says nothing of speed, and
// fidelity stops at what the PTX ISA specifies (which lane holds what, when a copy lands).
// Limits: each warp collective also acts as a barrier and memory fence for its warp, which
// the hardware does not promise, so a missing __syncwarp around shared memory passed
// between lanes would go unnoticed; and only ldmatrix reads and cp.async writes are
// race-checked by address (other races show through the schedules).
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "emulator_device_memory.h"
#include "emulator_fibers.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(threads)
// Blocks run one at a time, so a function-local static is exactly one block's array.
// Unlike the hardware's, it keeps what the previous block left in it.
#define __shared__ static

// CUDA's dim3 (also the type of threadIdx and blockIdx here, CUDA's uint3).
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3() = default;
  constexpr dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
// One launch runs at a time, on one OS thread: the fiber scheduler sets threadIdx before it
// resumes a thread.
inline dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace emulator {

constexpr int kWarpSize = 32;

// What the lanes of one warp hand each other in a collective.
struct Warp {
  FiberBarrier<> barrier{kWarpSize};
  const void* address[kWarpSize];
  uint32_t a[kWarpSize][4], b[kWarpSize][2];
  uint64_t value[kWarpSize];    // a shuffled value's bytes
  bool exited[kWarpSize] = {};  // lanes that returned from the kernel
  // An mma's operands, decoded once for the warp by its first lane to get there.
  float A[16][16], B[16][8];
  uint64_t mma_calls[kWarpSize] = {};  // per lane: the mma.sync calls it has made
  uint64_t mma_decoded = 0;            // the call whose operands A and B hold
};

// What the race checks (below) know of one 16-byte chunk of shared memory.
struct ChunkHistory {
  int64_t read_epoch = -1;  // the last epoch an ldmatrix read the chunk
  uint64_t read_warps = 0;  // the warps that read it in that epoch
  bool copy_in_flight = false;
  int64_t copy_waited_epoch = -1;  // when the last copy into it was waited for
};

// One cp.async: 16 bytes from src to dst (zeros when !valid).
struct AsyncCopy {
  void* dst;
  const void* src;
  bool valid;
};
// A thread's cp.async copies: issued and not yet committed, and committed groups in order
// (vectors: a block makes one of these per thread, and an empty vector allocates nothing).
struct ThreadCopies {
  std::vector<AsyncCopy> open;
  std::vector<std::vector<AsyncCopy>> committed;
};

struct Block {
  // Barrier epochs: __syncthreads calls the block has completed.
  struct NextEpoch {
    int64_t* epoch;
    void operator()() noexcept { ++*epoch; }
  };
  int64_t epoch = 0;
  FiberBarrier<NextEpoch> barrier;
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<ThreadCopies> copies;   // per thread
  std::vector<unsigned char> shared;  // all bits set: NaN in every float type
  std::vector<ChunkHistory> history;  // one per 16 bytes of `shared`
  Block(int threads, size_t shared_bytes)
      : barrier(threads, NextEpoch{&epoch}),
        copies(static_cast<size_t>(threads)),
        shared(shared_bytes, 0xFF),
        history((shared_bytes + 15) / 16) {
    for (int w = 0; w < threads / kWarpSize; ++w) warps.push_back(std::make_unique<Warp>());
  }
};

inline Block* current_block = nullptr;
inline Warp& warp() { return *current_block->warps[threadIdx.x / kWarpSize]; }
inline int lane() { return static_cast<int>(threadIdx.x) % kWarpSize; }
inline ThreadCopies& thread_copies() { return current_block->copies[threadIdx.x]; }

// A broken promise of the kernel (an unaligned or out-of-bounds shared-memory access)
// ends the run: the hardware would fault or corrupt memory.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "cuda_emulator: %s (block %u,%u thread %u)\n", what, blockIdx.x, blockIdx.y,
               threadIdx.x);
  std::abort();
}
// Whether no lane of w has returned from the kernel (a warp-wide instruction needs them all).
inline bool whole_warp(const Warp& w) {
  for (const bool exited : w.exited)
    if (exited) return false;
  return true;
}
// Whether the `bytes` at p lie in the block's shared memory and start 16-byte aligned.
inline bool shared_aligned_16(const void* p, size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  const auto& shared = current_block->shared;
  return b >= shared.data() && b + bytes <= shared.data() + shared.size() &&
         reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

// Race checks for the shared memory that ldmatrix reads and cp.async writes, per 16-byte
// chunk and barrier epoch, so that they do not depend on thread timing. A copy may land any
// time between its issue and its thread's wait, and other threads may rely on it only after
// a barrier that follows the wait. Hence two races: a copy issued into a chunk another warp
// read in the same epoch (no barrier orders the read before the landing), and a read of a
// chunk whose last copy is in flight or was waited for in the current epoch. Plain loads and
// stores are not tracked.
inline ChunkHistory& history_of(const void* p) {
  const auto offset = static_cast<const unsigned char*>(p) - current_block->shared.data();
  return current_block->history[static_cast<size_t>(offset) / 16];
}
inline uint64_t warp_bit() { return uint64_t{1} << (threadIdx.x / kWarpSize); }

inline void note_copy_issued(const void* dst) {
  ChunkHistory& h = history_of(dst);
  require(h.read_epoch != current_block->epoch || (h.read_warps & ~warp_bit()) == 0,
          "race: cp.async into shared memory another warp read with no barrier between");
  h.copy_in_flight = true;
}
inline void note_copy_waited(const void* dst) {
  ChunkHistory& h = history_of(dst);
  h.copy_in_flight = false;
  h.copy_waited_epoch = current_block->epoch;
}
inline void note_read(const void* src) {
  ChunkHistory& h = history_of(src);
  require(!h.copy_in_flight && h.copy_waited_epoch < current_block->epoch,
          "race: shared memory read before a barrier made its cp.async visible");
  if (h.read_epoch != current_block->epoch) h.read_epoch = current_block->epoch, h.read_warps = 0;
  h.read_warps |= warp_bit();
}

// When cp.async copies land: at the cp_async_wait that retires their group (LAZY: a read
// before the wait sees stale data) or when issued (EAGER: a copy issued while another warp
// still reads the buffer overwrites it early).
enum class CopyTiming { LAZY, EAGER };

// How the emulation orders what CUDA leaves unordered; correct code passes under every
// schedule. The default runs blocks and threads in index order with copies landing late,
// and a non-blocking stream's work at once (emulator_streams.h); MASKLM_EMULATOR_SCHEDULE=
// reversed runs blocks and threads in reverse order with copies landing early, and defers
// every stream's work until something waits for it. So a thread that reads shared memory
// another thread wrote with no barrier between reads it unwritten (NaN) under one schedule
// or the other, whichever thread has the lower index; and NCCL's stream reads a buffer
// before the compute stream's pending work unless it waits for it (in order), or runs
// only when the host waits for it (reversed). ctest runs the emulated kernel tests, and
// the multi-rank NCCL tests, under both.
struct Schedule {
  CopyTiming copies = CopyTiming::LAZY;
  bool reverse_blocks = false;
  bool reverse_threads = false;
  bool defer_non_blocking_streams = false;
};
inline Schedule schedule_from_environment() {
  const char* name = std::getenv("MASKLM_EMULATOR_SCHEDULE");
  if (!name || std::strcmp(name, "in_order") == 0) return {};
  if (std::strcmp(name, "reversed") == 0) return {CopyTiming::EAGER, true, true, true};
  std::fprintf(stderr,
               "cuda_emulator: MASKLM_EMULATOR_SCHEDULE is \"%s\"; use in_order or reversed\n",
               name);
  std::exit(2);
}
inline const Schedule schedule = schedule_from_environment();

// Launches take turns: the fibers, threadIdx and current_block belong to one launch at a
// time, whichever OS thread it comes from.
inline std::mutex launch_mutex;

inline void require_block_size(int threads) {
  require(threads > 0 && threads % kWarpSize == 0 && threads <= 1024,
          "launch with a block size that is not whole warps (at most 1024 threads)");
}

// Runs kernel(args...) over grid (x, y) blocks of `threads` threads with `shared_bytes` of
// dynamic shared memory.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, int threads, size_t shared_bytes, Args... args) {
  std::lock_guard<std::mutex> lock(launch_mutex);
  const auto access = device_access();
  require_block_size(threads);
  blockDim = {static_cast<unsigned>(threads), 1, 1};
  gridDim = grid;
  for (unsigned n = 0; n < grid.x * grid.y; ++n) {
    const unsigned b = schedule.reverse_blocks ? grid.x * grid.y - 1 - n : n;
    const unsigned bx = b % grid.x, by = b / grid.x;
    Block block(threads, shared_bytes);
    current_block = &block;
    blockIdx = {bx, by, 0};
    fiber_pool.run(
        threads, schedule.reverse_threads,
        [&](int) {
          kernel(static_cast<Params>(args)...);
          // As on the hardware, barriers stop waiting for threads that have exited.
          warp().exited[lane()] = true;
          warp().barrier.arrive_and_drop();
          block.barrier.arrive_and_drop();
        },
        [](int t) {
          threadIdx = {static_cast<unsigned>(t), 0, 0};
        });
    current_block = nullptr;
  }
}

}  // namespace emulator

inline void __syncthreads() { emulator::current_block->barrier.arrive_and_wait(); }
inline void __syncwarp() { emulator::warp().barrier.arrive_and_wait(); }

// CUDA's math functions that C++'s <cmath> lacks (the others, expf or erff, are the host's).
inline float normcdff(float x) { return 0.5f * std::erfc(-x * 0.70710678118654752440f); }

// Any value of up to 8 bytes, as CUDA's overloads take (int, float, int64_t, double...).
template <typename T>
T __shfl_xor_sync(unsigned /*mask: the kernels pass the whole warp*/, T v, int lane_mask) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t));
  emulator::Warp& w = emulator::warp();
  const int source = emulator::lane() ^ lane_mask;
  std::memcpy(&w.value[emulator::lane()], &v, sizeof v);
  w.barrier.arrive_and_wait();
  emulator::require(!w.exited[source], "shuffle from a lane that has exited");
  T other;
  std::memcpy(&other, &w.value[source], sizeof other);
  w.barrier.arrive_and_wait();
  return other;
}

// CUDA's min and max overloads, for arguments of one type; for floats fminf/fmaxf, which
// return the other operand when one is NaN.
template <typename T> T min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return std::fmin(a, b);
  return b < a ? b : a;
}
template <typename T> T max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return std::fmax(a, b);
  return a < b ? b : a;
}

inline int atomicCAS(int* address, int expected, int desired) {
  std::atomic_ref<int>(*address).compare_exchange_strong(expected, desired);
  return expected;
}

[[noreturn]] inline void __trap() { std::abort(); }
