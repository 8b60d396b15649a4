// Flash-attention style fused attention (FlashAttention-2, Dao 2023) on tensor cores for
// BF16/F16 activations with fp32 statistics and accumulators; contract in kernels/ops.h,
// declarations in flash_attention.cuh, launches in flash_attention.cu. No (T, T) matrix ever
// reaches global memory. The kernels live in this header, in an anonymous namespace, so
// that tests/emulation can also compile them for the CPU against an emulation of the CUDA
// features they use.
//
// Tensor cores through mma.sync m16n8k16 with operands loaded by ldmatrix
// (kernels/cuda/mma.cuh; which lane holds what: kernels/cuda/mma_fragments.h). Scores stay
// in registers: an accumulator of S = Q K^T is, element for element, the A operand of the
// next product once rounded to 16 bits (mma_fragments.h's acc_tile), so P (and dS in the
// backward) never goes through shared memory, and each lane knows the rows and columns of
// its values, which is all the masking, softmax, dropout and per-row rescaling need. Tiles
// reach shared memory by cp.async with zero fill past the sequence's end.
//
// Work split: blocks of 4 warps; a block owns a 64-row tile of one sequence and one head,
// each warp 16 of its rows, so every row statistic lives inside one warp (in the 4 lanes of
// a quad group). Tiles never straddle sequences. Sequence b's tiles are numbered from
// first_tile(b) = cu[b] / 64 + b: with cu[b] = 64a + r, its ceil(len / 64) tiles end at
// most at a + floor((r + len) / 64) + b = first_tile(b + 1) - 1, so numbers never collide,
// first_tile increases with b, and a grid of N / 64 + B blocks covers every tile; a block
// finds its sequence by binary search and returns at once when its number is past its
// sequence's last tile (at most B idle blocks per head).
//
// Forward, per (64-query tile, head), over 64-key tiles: S = Q K^T (fp32); online softmax
// per row in fp32 (running max m and sum l of the un-dropped exponentials, in log2 units so
// exp2f does the work); P = exp(S - m) times the dropout scale, rounded to 16 bits;
// O = O * exp(m_old - m) + P V in fp32 registers. At the end out = O / l (16 bits) and
// lse = m + log(l) (fp32, natural log). Each V tile is copied while S and the softmax are
// computed, the next K tile while P V is: two barriers per key tile.
//
// Backward, in three launches so that every output element has one writer and a fixed
// summation order (deterministic, no atomics); M are the dropout scales:
//   1. D_i = dO_i . O_i (fp32, scratch (NH, N)).
//   2. per (64-key tile, head), over 32-query tiles: S^T = K Q^T, dP^T = V dO^T,
//      P = exp(S - lse), dS = P (M dP - D), dV += (P M)^T dO, dK += dS^T Q / sqrt(HS).
//   3. per (64-query tile, head), over 32-key tiles: S = Q K^T, dP = dO V^T, the same P and
//      dS, then dQ += dS K / sqrt(HS). FlashAttention-2 does this in pass 2 with float
//      atomics; the separate pass costs two more GEMMs (7 instead of 5 per backward) and
//      keeps bits reproducible.
//   In passes 2 and 3 the next 32-row inner tiles are copied while the current ones are used.
// P and dS are rounded to 16 bits before their GEMMs, as in FlashAttention. Gradients are
// added to dqkv in fp32 and rounded once per element (kernels/cuda/precision.h).
//
// Shared memory holds 16-bit tiles, padded by 8 columns so that the 8 rows an ldmatrix
// reads fall in different banks, and a step's dropout keep bits (draw_keep_bits): forward
// Q, K, V (64 x (HS + 8) each) and 512 bytes of bits, backward two 64-row tiles, two stages
// of two 32-row tiles, 32 lse and D values and 256 bytes of bits; at HS = 32 / 64 / 128
// that is 15.5 / 27.5 / 51.5 KiB forward and 20.5 / 36.5 / 68.5 KiB backward.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/mma_fragments.h"
#include "kernels/cuda/precision.h"
#include "kernels/cuda/storage.cuh"
#include "runtime/philox.h"

// mma.sync on bf16 and cp.async exist from sm_80 on; the host entry refuses older GPUs,
// and device code for older targets (sm_70 is a default target with CUDA 12) is a trap,
// which leaves the helpers unreferenced there.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#define MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH 1
#pragma nv_diag_suppress 177  // declared but never referenced
#endif

namespace masklm::cuda {
namespace {

using namespace mma;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * WARP_SIZE;
constexpr int kWarpRows = 16;                  // rows per warp: one mma tile's height
constexpr int kTileRows = kWarps * kWarpRows;  // rows per block: queries, or keys (dK/dV pass)
constexpr int kForwardKeys = 64;               // keys per forward iteration
constexpr int kBackwardInner = 32;  // queries (dK/dV pass) or keys (dQ pass) per iteration
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- shared-memory layouts (byte offsets, each region 128-byte aligned) ----------------

constexpr size_t align128(size_t bytes) { return (bytes + 127) / 128 * 128; }

template <typename T16, int kHS> struct ForwardSmem {
  static constexpr int ldt = kHS + 8;  // Q, K, V tiles
  static constexpr size_t tile_bytes = align128(size_t{kTileRows} * ldt * sizeof(T16));
  static constexpr size_t q = 0, k = tile_bytes, v = 2 * tile_bytes;
  // Dropout keep bits of a key tile (draw_keep_bits): 64 queries x 64 keys.
  static constexpr size_t keep = 3 * tile_bytes;
  static constexpr size_t bytes = keep + align128(kTileRows * (kForwardKeys / 32) * sizeof(uint32_t));
};

// Both backward passes: two 64-row "outer" tiles loaded once (K, V in the dK/dV pass; Q, dO
// in the dQ pass), two stages of two 32-row "inner" tiles (Q, dO; or K, V: one stage is
// read while the next is copied), and lse and D of the dK/dV pass's inner queries.
template <typename T16, int kHS> struct BackwardSmem {
  static constexpr int ldt = kHS + 8;
  static constexpr size_t outer_bytes = align128(size_t{kTileRows} * ldt * sizeof(T16));
  static constexpr size_t inner_bytes = align128(size_t{kBackwardInner} * ldt * sizeof(T16));
  static constexpr size_t outer0 = 0, outer1 = outer_bytes;
  static constexpr size_t inner = 2 * outer_bytes;  // tile i of stage g at inner_at(g, i)
  __host__ __device__ static constexpr size_t inner_at(int stage, int i) {
    return inner + (2 * stage + i) * inner_bytes;
  }
  static constexpr size_t lse = inner + 4 * inner_bytes;
  static constexpr size_t d = lse + align128(kBackwardInner * sizeof(float));
  // Dropout keep bits of a step (draw_keep_bits): 32 x 64 in the dK/dV pass, 64 x 32 in dQ.
  static constexpr size_t keep = d + align128(kBackwardInner * sizeof(float));
  static constexpr size_t bytes = keep + align128(kBackwardInner * 2 * sizeof(uint32_t));
};

// ---- device helpers ----------------------------------------------------------------------

struct FlashShape {
  int64_t B, N, C;
  float scale;       // 1 / sqrt(HS), for dQ and dK
  float scale_log2;  // log2(e) / sqrt(HS): scores in log2 units, for exp2f
  float dropout_p;   // 0 = no dropout
  float keep_scale;  // 1 / (1 - p), computed on the host like the CPU's
};

// A block's tile: sequence start s0 and length len (tokens), and the tile's first row
// within the sequence.
struct SeqTile {
  int64_t s0, len, row0;
};

// Tile number x (the header explains the numbering); false for an idle block, or after
// raising the error flag when the offsets around it are bad (nothing is then read).
__device__ inline bool find_tile(const int32_t* cu_seqlens, const FlashShape& s, int64_t x,
                                 SeqTile& tile, int* error_flag) {
  int64_t lo = 0, hi = s.B;  // the largest b with first_tile(b) <= x, if offsets are valid
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (cu_seqlens[mid] / kTileRows + mid <= x)
      lo = mid;
    else
      hi = mid;
  }
  const int64_t s0 = cu_seqlens[lo], s1 = cu_seqlens[lo + 1];
  if (!(0 <= s0 && s0 <= s1 && s1 <= s.N)) {
    raise_device_error(error_flag, DeviceError::BAD_CU_SEQLENS);
    return false;
  }
  tile = {s0, s1 - s0, (x - (s0 / kTileRows + lo)) * kTileRows};
  return 0 <= tile.row0 && tile.row0 < tile.len;
}

// A step's dropout draws (ops.h's Philox index (h * N + i) * N + j, four to a block), made
// by the whole block for kQueries queries (from query q_first of the tile's sequence) by
// kKeys keys (from key k_first): bit k of keep[kKeys / 32 * c + k / 32] says whether key
// k_first + k stays for query q_first + c. Drawn where the block's lanes hold them, a lane
// would draw one Philox block for its two neighbouring keys of a query (the forward and
// the dQ pass), or for every value (the dK/dV pass, whose lanes hold two keys of several
// queries, indices N apart). Here the kThreads / kQueries threads of a query, neighbouring
// lanes, take turns over its keys' blocks, so each block is drawn once, and then combine
// their bits; a barrier must come between this and the reads.
template <int kQueries, int kKeys>
__device__ void draw_keep_bits(uint32_t* keep, const RngKey& key, const FlashShape& s, int64_t h,
                               const SeqTile& tile, int64_t q_first, int64_t k_first) {
  constexpr int kParts = kThreads / kQueries, kWords = kKeys / 32;
  static_assert(kThreads % kQueries == 0 && kParts <= WARP_SIZE && (kKeys == 32 || kKeys == 64));
  const int c = static_cast<int>(threadIdx.x) / kParts, part = static_cast<int>(threadIdx.x) % kParts;
  uint64_t bits = 0;  // one register pair, not an array in local memory
  if (q_first + c < tile.len) {
    const auto first = static_cast<uint64_t>((h * s.N + tile.s0 + q_first + c) * s.N + tile.s0 +
                                             k_first);  // key k_first's Philox index
    for (uint64_t block = (first >> 2) + part; block <= (first + kKeys - 1) >> 2; block += kParts) {
      const PhiloxCounter words = philox_block(key, block);
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        const uint64_t k = block * 4 + w - first;  // wraps below `first`: then >= kKeys
        if (k < kKeys && u32_to_uniform(words.c[w]) >= s.dropout_p) bits |= uint64_t{1} << k;
      }
    }
  }
#pragma unroll
  for (int lanes = 1; lanes < kParts; lanes *= 2)
    bits |= __shfl_xor_sync(kFullWarpMask, static_cast<unsigned long long>(bits), lanes);
  if (part == 0)
#pragma unroll
    for (int w = 0; w < kWords; ++w) keep[kWords * c + w] = static_cast<uint32_t>(bits >> (32 * w));
}

// Query c's key k in keep bits of kKeys keys a query: keep_scale, or 0 where dropped.
template <int kKeys> __device__ float keep_scale_at(const uint32_t* keep, int c, int k,
                                                    float keep_scale) {
  return (keep[kKeys / 32 * c + k / 32] >> (k % 32)) & 1u ? keep_scale : 0.0f;
}

// Rows [row0, row0 + kRows) of one head's (len, kHS) slice of a row-major matrix (src: its
// row 0, leading dimension ld elements) copied into shared memory (leading dimension lds)
// by cp.async, rows at or past len zeroed; the caller commits and waits. 16-byte vectors
// (the entry points check the alignment); the whole block takes part.
template <int kRows, int kHS, typename T16>
__device__ void copy_rows_async(T16* dst, int lds, const T16* src, int64_t ld, int64_t row0,
                                int64_t len) {
  constexpr int kVectors = kHS / 8;  // eight 16-bit values per vector
  for (int v = threadIdx.x; v < kRows * kVectors; v += blockDim.x) {
    const int r = v / kVectors, c = v % kVectors * 8;
    const bool valid = row0 + r < len;
    cp_async_16(dst + r * lds + c, valid ? src + (row0 + r) * ld + c : src, valid);
  }
}

// Accumulators of a 16 x 8 kNT tile (fragments as in mma_fragments.h).
template <int kNT> using Acc = float[kNT][4];

// acc += A B^T for A the 16 rows of a row-major shared tile at `a` (kK columns) and B the
// 8 kNT rows at `b` (the same kK columns): Q K^T, dO V^T, K Q^T, V dO^T.
template <int kNT, int kK, typename T16>
__device__ void warp_mma_abt(Acc<kNT>& acc, const T16* a, int lda, const T16* b, int ldb) {
  static_assert(kNT % 2 == 0 && kK % 16 == 0, "whole 16x16 ldmatrix tiles");
  const int lane = threadIdx.x % WARP_SIZE;
#pragma unroll
  for (int k = 0; k < kK; k += 16) {
    uint32_t af[4];
    ldmatrix_x4(af, a + tile_row(lane) * lda + k + tile_col(lane));
#pragma unroll
    for (int n = 0; n < kNT; n += 2) {
      uint32_t bf[4];
      ldmatrix_x4(bf, b + (n * 8 + bt_row(lane)) * ldb + k + bt_col(lane));
      mma_16816<T16>(acc[n], af, bf[0], bf[1]);
      mma_16816<T16>(acc[n + 1], af, bf[2], bf[3]);
    }
  }
}

// acc += A B for A the 16 x (16 kKS) operand in registers and B rows [0, 16 kKS) x columns
// [0, 8 kNT) of a row-major shared tile: P V, (P M)^T dO, dS^T Q, dS K.
template <int kNT, int kKS, typename T16>
__device__ void warp_mma_ab(Acc<kNT>& acc, const uint32_t (&a)[kKS][4], const T16* b, int ldb) {
  static_assert(kNT % 2 == 0, "whole 16x16 ldmatrix tiles");
  const int lane = threadIdx.x % WARP_SIZE;
#pragma unroll
  for (int k = 0; k < kKS; ++k)
#pragma unroll
    for (int n = 0; n < kNT; n += 2) {
      uint32_t bf[4];
      ldmatrix_x4_trans(bf, b + (k * 16 + tile_row(lane)) * ldb + n * 8 + tile_col(lane));
      mma_16816<T16>(acc[n], a[k], bf[0], bf[1]);
      mma_16816<T16>(acc[n + 1], a[k], bf[2], bf[3]);
    }
}

// The 16 x 8 kNT accumulators rounded to 16 bits as the A operand of the next product
// (k = their columns).
template <typename T16, int kNT>
__device__ void acc_to_operand(uint32_t (&a)[kNT / 2][4], const Acc<kNT>& acc) {
#pragma unroll
  for (int k = 0; k < kNT / 2; ++k)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const float* tile = acc[2 * k + acc_tile(r)];
      a[k][r] = pack2<T16>(tile[acc_value(r)], tile[acc_value(r) + 1]);
    }
}

template <int kNT> __device__ void zero(Acc<kNT>& acc) {
#pragma unroll
  for (int n = 0; n < kNT; ++n)
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[n][v] = 0.0f;
}

// Writes scale * acc (the warp's 16 rows) to rows [row0, row0 + 16) of a 16-bit matrix
// (dst: the head's row 0, leading dimension ld), skipping rows at or past len; with kAdd,
// adds to what is there in fp32 and rounds once. Each lane writes pairs of columns.
template <bool kAdd, int kNT, typename T16>
__device__ void store_rows(const Acc<kNT>& acc, float scale, T16* dst, int64_t ld, int64_t row0,
                           int64_t len) {
  const int lane = threadIdx.x % WARP_SIZE;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = row0 + acc_row(lane, 2 * half);
    if (row >= len) continue;
#pragma unroll
    for (int n = 0; n < kNT; ++n) {
      T16* d = dst + row * ld + n * 8 + acc_col(lane, 2 * half);
      float lo = scale * acc[n][2 * half], hi = scale * acc[n][2 * half + 1];
      if constexpr (kAdd) lo += to_float(d[0]), hi += to_float(d[1]);
      *reinterpret_cast<uint32_t*>(d) = pack2<T16>(lo, hi);
    }
  }
}

// ---- kernels -----------------------------------------------------------------------------

// grid (tiles, NH), kThreads threads; shared memory ForwardSmem.
template <typename T16, int kHS> __global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(T16* out, float* lse, const T16* qkv, const int32_t* cu_seqlens,
                         FlashShape s, RngKey key, int* error_flag) {
#ifdef MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
  __trap();
#else
  using L = ForwardSmem<T16, kHS>;
  unsigned char* smem = dynamic_shared_memory();
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  T16* Qs = reinterpret_cast<T16*>(smem + L::q);
  T16* Ks = reinterpret_cast<T16*>(smem + L::k);
  T16* Vs = reinterpret_cast<T16*>(smem + L::v);
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;  // the sequence's row 0 for head h
  const T16 *k_head = q_head + s.C, *v_head = q_head + 2 * s.C;
  // One copy group in flight at a time: V tile t during Q K_t^T and the softmax, K tile
  // t + 1 during P V_t; each barrier both publishes a tile and frees the other buffer.
  copy_rows_async<kTileRows, kHS>(Qs, L::ldt, q_head, ld, tile.row0, tile.len);
  copy_rows_async<kForwardKeys, kHS>(Ks, L::ldt, k_head, ld, 0, tile.len);
  cp_async_commit();

  constexpr int kNT = kForwardKeys / 8;
  Acc<kHS / 8> o;
  zero(o);
  // The lane's two rows (accumulator values 0, 1 and 2, 3): queries i[0] and i[1].
  const int64_t warp_row0 = tile.row0 + warp * kWarpRows;
  const int64_t i[2] = {warp_row0 + acc_row(lane, 0), warp_row0 + acc_row(lane, 2)};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // log2 units; un-dropped sum
  // Key tile t's dropout keep bits are drawn before the barrier that starts its iteration
  // (for t > 0 after the one that ends tile t - 1's reads); the lane's rows are rows iq[0],
  // iq[1] of them.
  uint32_t* keep = reinterpret_cast<uint32_t*>(smem + L::keep);
  const int iq[2] = {static_cast<int>(i[0] - tile.row0), static_cast<int>(i[1] - tile.row0)};
  const bool dropout = s.dropout_p > 0.0f;
  if (dropout) draw_keep_bits<kTileRows, kForwardKeys>(keep, key, s, h, tile, tile.row0, 0);
  for (int64_t k0 = 0; k0 < tile.len; k0 += kForwardKeys) {
    cp_async_wait<0>();
    __syncthreads();  // K tile t is in; every warp is done with V tile t - 1
    copy_rows_async<kForwardKeys, kHS>(Vs, L::ldt, v_head, ld, k0, tile.len);
    cp_async_commit();
    Acc<kNT> sc;
    zero(sc);
    warp_mma_abt<kNT, kHS>(sc, Qs + warp * kWarpRows * L::ldt, L::ldt, Ks, L::ldt);

    // Key k0 exists, so every row's max over the tile is finite.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kNT; ++n)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        if (k0 + n * 8 + acc_col(lane, v) >= tile.len) sc[n][v] = -INFINITY;
        tile_max[v / 2] = fmaxf(tile_max[v / 2], sc[n][v]);
      }
    float alpha[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {  // the 4 lanes of a quad group share a row
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullWarpMask, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(kFullWarpMask, tile_max[r], 2));
      const float m_new = fmaxf(m[r], tile_max[r] * s.scale_log2);
      alpha[r] = exp2f(m[r] - m_new);  // 0 on the first tile (m = -inf)
      m[r] = m_new;
    }
#pragma unroll
    for (int n = 0; n < kNT; ++n)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int r = v / 2, k = n * 8 + acc_col(lane, v);  // k: the key within the tile
        const float p = exp2f(sc[n][v] * s.scale_log2 - m[r]);  // 0 past the end (-inf)
        sum[r] += p;
        const float mask =
            dropout ? keep_scale_at<kForwardKeys>(keep, iq[r], k, s.keep_scale) : 1.0f;
        sc[n][v] = k0 + k < tile.len ? p * mask : 0.0f;
      }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      sum[r] += __shfl_xor_sync(kFullWarpMask, sum[r], 1);
      sum[r] += __shfl_xor_sync(kFullWarpMask, sum[r], 2);
      l[r] = l[r] * alpha[r] + sum[r];
    }
#pragma unroll
    for (int n = 0; n < kHS / 8; ++n)
#pragma unroll
      for (int v = 0; v < 4; ++v) o[n][v] *= alpha[v / 2];
    uint32_t p16[kNT / 2][4];
    acc_to_operand<T16>(p16, sc);

    cp_async_wait<0>();
    __syncthreads();  // V tile t is in; every warp is done with K tile t and its keep bits
    if (k0 + kForwardKeys < tile.len) {
      copy_rows_async<kForwardKeys, kHS>(Ks, L::ldt, k_head, ld, k0 + kForwardKeys, tile.len);
      cp_async_commit();
      if (dropout)
        draw_keep_bits<kTileRows, kForwardKeys>(keep, key, s, h, tile, tile.row0, k0 + kForwardKeys);
    }
    warp_mma_ab<kHS / 8>(o, p16, Vs, L::ldt);
  }
  // Padding rows (i >= len) saw zero queries, so their l > 0 too; they are not written.
  float inv_l[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    inv_l[r] = 1.0f / l[r];
    if (quad(lane) == 0 && i[r] < tile.len)
      lse[h * s.N + tile.s0 + i[r]] = (m[r] + log2f(l[r])) * kLn2;
  }
#pragma unroll
  for (int n = 0; n < kHS / 8; ++n)
#pragma unroll
    for (int v = 0; v < 4; ++v) o[n][v] *= inv_l[v / 2];
  store_rows<false>(o, 1.0f, out + tile.s0 * s.C + h * kHS, s.C, warp_row0, tile.len);
#endif  // MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
}

// D (NH, N): D[h * N + i] = dO_i . O_i over head h's columns, in fp32; a warp per (i, h).
template <typename T16> __global__ void flash_backward_dot_kernel(float* D, const T16* dout,
                                                                  const T16* out, int64_t N,
                                                                  int64_t C, int64_t NH) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t HS = C / NH, warps = global_thread_count() / WARP_SIZE;
  for (int64_t item = global_thread_index() / WARP_SIZE; item < N * NH; item += warps) {
    const int64_t i = item / NH, h = item % NH;
    const int64_t at = i * C + h * HS;
    float sum = 0.0f;
    for (int64_t d = lane; d < HS; d += WARP_SIZE)
      sum += to_float(dout[at + d]) * to_float(out[at + d]);
    sum = warp_sum(sum);
    if (lane == 0) D[h * N + i] = sum;
  }
}

// One head's rows in global memory: row r at row0 + r * ld.
template <typename T16> struct HeadRows {
  const T16* row0;
  int64_t ld;
};

// A backward block's shared memory (BackwardSmem). Both passes have one shape: two outer
// tiles loaded once (K, V in the dK/dV pass; Q, dO in the dQ pass), inner tiles of 32 rows
// (Q, dO; or K, V) taken in turn, and per warp the scores outer0 inner0^T and
// outer1 inner1^T of its 16 outer rows (the dK/dV pass so gets S^T and dP^T) in registers.
// Inner tiles alternate between two stages: tiles t + 1 are copied while tiles t are used.
template <typename T16, int kHS> struct BackwardTiles {
  using L = BackwardSmem<T16, kHS>;
  static constexpr int kNT = kBackwardInner / 8;
  unsigned char* smem;
  T16 *outer0, *outer1, *inner0, *inner1;  // inner: the current stage; leading dimension L::ldt
  float *lse2, *D;           // lse * log2(e) and D of the dK/dV pass's 32 inner queries
  uint32_t* keep;            // the step's dropout keep bits (draw_keep_bits)
  HeadRows<T16> src0, src1;  // where the inner tiles come from
  int64_t len;
  int warp;

  // Starts copying outer rows [outer_row0, outer_row0 + 64) and inner tiles 0.
  __device__ BackwardTiles(unsigned char* shared, int warp_index, HeadRows<T16> outer_src0,
                           HeadRows<T16> outer_src1, HeadRows<T16> inner_src0,
                           HeadRows<T16> inner_src1, int64_t outer_row0, int64_t seq_len)
      : smem(shared),
        outer0(reinterpret_cast<T16*>(shared + L::outer0)),
        outer1(reinterpret_cast<T16*>(shared + L::outer1)),
        inner0(nullptr),
        inner1(nullptr),
        lse2(reinterpret_cast<float*>(shared + L::lse)),
        D(reinterpret_cast<float*>(shared + L::d)),
        keep(reinterpret_cast<uint32_t*>(shared + L::keep)),
        src0(inner_src0),
        src1(inner_src1),
        len(seq_len),
        warp(warp_index) {
    copy_rows_async<kTileRows, kHS>(outer0, L::ldt, outer_src0.row0, outer_src0.ld, outer_row0,
                                    len);
    copy_rows_async<kTileRows, kHS>(outer1, L::ldt, outer_src1.row0, outer_src1.ld, outer_row0,
                                    len);
    prefetch(0);  // the same group as the outer tiles
  }

  __device__ T16* stage_tile(int stage, int i) const {
    return reinterpret_cast<T16*>(smem + L::inner_at(stage, i));
  }
  // Issues the copies of inner tiles t (rows from t * 32) into stage t % 2 and commits them
  // (an empty group past the end).
  __device__ void prefetch(int64_t t) {
    const int64_t row0 = t * kBackwardInner;
    const int stage = static_cast<int>(t % 2);
    if (row0 < len) {
      copy_rows_async<kBackwardInner, kHS>(stage_tile(stage, 0), L::ldt, src0.row0, src0.ld, row0,
                                           len);
      copy_rows_async<kBackwardInner, kHS>(stage_tile(stage, 1), L::ldt, src1.row0, src1.ld, row0,
                                           len);
    }
    cp_async_commit();
  }
  // Makes inner tiles t current: once every warp is done with tiles t - 1 (whose stage
  // tiles t + 1 take), starts copying those and waits for tiles t. The caller adds its own
  // shared-memory writes, then __syncthreads() before scores().
  __device__ void advance(int64_t t) {
    __syncthreads();
    prefetch(t + 1);
    cp_async_wait<1>();
    inner0 = stage_tile(static_cast<int>(t % 2), 0);
    inner1 = stage_tile(static_cast<int>(t % 2), 1);
  }
  // The warp's two score tiles, (16 outer rows, 32 inner rows) each.
  __device__ void scores(Acc<kNT>& s0, Acc<kNT>& s1) const {
    const int at = warp * kWarpRows * L::ldt;
    zero(s0);
    zero(s1);
    warp_mma_abt<kNT, kHS>(s0, outer0 + at, L::ldt, inner0, L::ldt);
    warp_mma_abt<kNT, kHS>(s1, outer1 + at, L::ldt, inner1, L::ldt);
  }
};

// dK, dV of a 64-key tile, over 32-query tiles. grid (tiles, NH); shared BackwardSmem.
template <typename T16, int kHS> __global__ void __launch_bounds__(kThreads)
    flash_backward_dkv_kernel(T16* dqkv, const float* D, const T16* dout, const T16* qkv,
                              const float* lse, const int32_t* cu_seqlens, FlashShape s, RngKey key,
                              int* error_flag) {
#ifdef MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
  __trap();
#else
  using Tiles = BackwardTiles<T16, kHS>;
  constexpr int kNT = Tiles::kNT;
  unsigned char* smem = dynamic_shared_memory();
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;
  const T16* dout_head = dout + tile.s0 * s.C + h * kHS;
  Tiles tiles(smem, warp, {q_head + s.C, ld}, {q_head + 2 * s.C, ld}, {q_head, ld},
              {dout_head, s.C}, tile.row0, tile.len);  // outer: K, V; inner: Q, dO
  Acc<kHS / 8> dk, dv;
  zero(dk);
  zero(dv);

  // The warp's S^T and dP^T are (16 keys, 32 queries): the lane's keys j[0], j[1] are its
  // two accumulator rows, its queries the columns. The dropout draws come from the block's
  // keep bits (draw_keep_bits), bit jk[r] of each query's pair of words.
  const int64_t j0 = tile.row0 + warp * kWarpRows;  // the warp's first key within the sequence
  const int64_t j[2] = {j0 + acc_row(lane, 0), j0 + acc_row(lane, 2)};
  const int jk[2] = {static_cast<int>(j[0] - tile.row0), static_cast<int>(j[1] - tile.row0)};
  const bool dropout = s.dropout_p > 0.0f;
  for (int64_t it = 0; it * kBackwardInner < tile.len; ++it) {
    const int64_t q0 = it * kBackwardInner;
    tiles.advance(it);
    if (threadIdx.x < kBackwardInner) {
      const int64_t i = q0 + threadIdx.x;
      const bool valid = i < tile.len;
      tiles.lse2[threadIdx.x] = valid ? lse[h * s.N + tile.s0 + i] * kLog2e : 0.0f;
      tiles.D[threadIdx.x] = valid ? D[h * s.N + tile.s0 + i] : 0.0f;
    }
    if (dropout) draw_keep_bits<kBackwardInner, kTileRows>(tiles.keep, key, s, h, tile, q0, tile.row0);
    __syncthreads();
    Acc<kNT> st, dpt;
    tiles.scores(st, dpt);
#pragma unroll
    for (int n = 0; n < kNT; ++n)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int c = n * 8 + acc_col(lane, v);  // the query within the inner tile
        const int64_t i = q0 + c, key_j = j[v / 2];
        float p_dropped = 0.0f, ds = 0.0f;
        if (i < tile.len && key_j < tile.len) {
          const float p = exp2f(st[n][v] * s.scale_log2 - tiles.lse2[c]);
          const float mask =
              dropout ? keep_scale_at<kTileRows>(tiles.keep, c, jk[v / 2], s.keep_scale) : 1.0f;
          p_dropped = p * mask;
          ds = p * (mask * dpt[n][v] - tiles.D[c]);
        }
        st[n][v] = p_dropped;
        dpt[n][v] = ds;
      }
    uint32_t p16[kNT / 2][4], ds16[kNT / 2][4];
    acc_to_operand<T16>(p16, st);
    acc_to_operand<T16>(ds16, dpt);
    warp_mma_ab<kHS / 8>(dv, p16, tiles.inner1, Tiles::L::ldt);   // (P M)^T dO
    warp_mma_ab<kHS / 8>(dk, ds16, tiles.inner0, Tiles::L::ldt);  // dS^T Q
  }
  T16* dk_head = dqkv + tile.s0 * ld + s.C + h * kHS;
  store_rows<true>(dk, s.scale, dk_head, ld, j0, tile.len);
  store_rows<true>(dv, 1.0f, dk_head + s.C, ld, j0, tile.len);
#endif  // MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
}

// dQ of a 64-query tile, over 32-key tiles. grid (tiles, NH); shared BackwardSmem.
template <typename T16, int kHS> __global__ void __launch_bounds__(kThreads)
    flash_backward_dq_kernel(T16* dqkv, const float* D, const T16* dout, const T16* qkv,
                             const float* lse, const int32_t* cu_seqlens, FlashShape s, RngKey key,
                             int* error_flag) {
#ifdef MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
  __trap();
#else
  using Tiles = BackwardTiles<T16, kHS>;
  constexpr int kNT = Tiles::kNT;
  unsigned char* smem = dynamic_shared_memory();
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;
  Tiles tiles(smem, warp, {q_head, ld}, {dout + tile.s0 * s.C + h * kHS, s.C}, {q_head + s.C, ld},
              {q_head + 2 * s.C, ld}, tile.row0, tile.len);  // outer: Q, dO; inner: K, V
  Acc<kHS / 8> dq;
  zero(dq);

  // The lane's two rows are queries i[0], i[1] (rows iq[0], iq[1] of the tile's dropout keep
  // bits, draw_keep_bits); along each, its keys increase.
  const int64_t i0 = tile.row0 + warp * kWarpRows;
  const int64_t i[2] = {i0 + acc_row(lane, 0), i0 + acc_row(lane, 2)};
  const int iq[2] = {static_cast<int>(i[0] - tile.row0), static_cast<int>(i[1] - tile.row0)};
  const bool dropout = s.dropout_p > 0.0f;
  float lse2[2], Di[2];
  for (int r = 0; r < 2; ++r) {
    const bool valid = i[r] < tile.len;
    lse2[r] = valid ? lse[h * s.N + tile.s0 + i[r]] * kLog2e : 0.0f;
    Di[r] = valid ? D[h * s.N + tile.s0 + i[r]] : 0.0f;
  }
  for (int64_t it = 0; it * kBackwardInner < tile.len; ++it) {
    const int64_t k0 = it * kBackwardInner;
    tiles.advance(it);
    if (dropout) draw_keep_bits<kTileRows, kBackwardInner>(tiles.keep, key, s, h, tile, tile.row0, k0);
    __syncthreads();
    Acc<kNT> sc, dp;
    tiles.scores(sc, dp);
#pragma unroll
    for (int n = 0; n < kNT; ++n)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int r = v / 2, k = n * 8 + acc_col(lane, v);  // k: the key within the inner tile
        const int64_t j = k0 + k;
        float ds = 0.0f;
        if (i[r] < tile.len && j < tile.len) {
          const float p = exp2f(sc[n][v] * s.scale_log2 - lse2[r]);
          const float mask =
              dropout ? keep_scale_at<kBackwardInner>(tiles.keep, iq[r], k, s.keep_scale) : 1.0f;
          ds = p * (mask * dp[n][v] - Di[r]);
        }
        dp[n][v] = ds;
      }
    uint32_t ds16[kNT / 2][4];
    acc_to_operand<T16>(ds16, dp);
    warp_mma_ab<kHS / 8>(dq, ds16, tiles.inner0, Tiles::L::ldt);  // dS K
  }
  store_rows<true>(dq, s.scale, dqkv + tile.s0 * ld + h * kHS, ld, i0, tile.len);
#endif  // MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
}

}  // namespace
}  // namespace masklm::cuda
