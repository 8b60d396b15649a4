// Flash-attention style fused attention (FlashAttention-2, Dao 2023) on tensor cores for
// BF16/F16 activations with fp32 statistics and accumulators; contract in kernels/ops.h,
// declarations in flash_attention.cuh. No (T, T) matrix ever reaches global memory.
//
// Tensor cores through nvcuda::wmma (16x16x16 fragments, fp32 accumulators). The issue asks
// for mma.sync + ldmatrix, which is faster (P stays in registers instead of a trip through
// shared memory) but whose register layouts, got wrong, corrupt results silently; this
// first version was written without a GPU to run it on, so it uses wmma, whose layouts
// cannot be got wrong. The mma.sync version is the tuning step for a session with a GPU.
// wmma leaves the accumulator layout unspecified, so each thread learns which row each of
// its accumulator slots holds once (accumulator_rows), which is all the per-row rescaling
// of O needs.
//
// Work split: blocks of 4 warps; a block owns a 64-row tile of one sequence and one head,
// each warp 16 of its rows, so every row statistic lives inside one warp. Tiles never
// straddle sequences. Sequence b's tiles are numbered from first_tile(b) = cu[b] / 64 + b:
// with cu[b] = 64a + r, its ceil(len / 64) tiles end at most at a + floor((r + len) / 64) + b
// = first_tile(b + 1) - 1, so numbers never collide, first_tile increases with b, and a
// grid of N / 64 + B blocks covers every tile; a block finds its sequence by binary search
// and returns at once when its number is past its sequence's last tile (at most B idle
// blocks per head).
//
// Forward, per (64-query tile, head), over 64-key tiles: S = Q K^T (fp32, to shared
// memory); online softmax per row in fp32 (running max m and sum l of the un-dropped
// exponentials, in log2 units so exp2f does the work); P = exp(S - m) times the dropout
// scale, rounded to 16 bits; O = O * exp(m_old - m) + P V in fp32 registers. At the end
// out = O / l (16 bits) and lse = m + log(l) (fp32, natural log).
//
// Backward, in three launches so that every output element has one writer and a fixed
// summation order (deterministic, no atomics); M are the dropout scales:
//   1. D_i = dO_i . O_i (fp32, scratch (NH, N)).
//   2. per (64-key tile, head), over 32-query tiles: P = exp(S - lse), dP = dO V^T,
//      dS = P (M dP - D), dV += (P M)^T dO, dK += dS^T Q / sqrt(HS).
//   3. per (64-query tile, head), over 32-key tiles: the same S, P, dP, dS, then
//      dQ += dS K / sqrt(HS). FlashAttention-2 does this in pass 2 with float atomics; the
//      separate pass costs two more GEMMs (7 instead of 5 per backward) and keeps bits
//      reproducible.
// P and dS are rounded to 16 bits before their GEMMs, as in FlashAttention. Gradients are
// added to dqkv in fp32 and rounded once per element (kernels/cuda/precision.h).
//
// Shared memory (T16 tiles padded by 8 columns, fp32 tiles by 4, against bank conflicts),
// at HS = 32 / 64 / 128: forward Q, K, V tiles (64 x (HS + 8) each), S (64 x 68 fp32), P
// (64 x 72): 41 / 53 / 77 KiB; backward two 64-row and two 32-row tiles, S and dP (64 x 36
// fp32), P and dS (64 x 40): 43 / 55 / 79 KiB. Every size fits the 99 KiB of sm_86.
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/precision.h"

// wmma's bf16 fragments exist from sm_80 on; the host entry refuses older GPUs, and device
// code for older targets (sm_70 is a default target with CUDA 12) is a trap, which leaves
// the helpers unreferenced there.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#define MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH 1
#pragma nv_diag_suppress 177  // declared but never referenced
#endif

namespace masklm::cuda {
namespace {

using namespace nvcuda;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * WARP_SIZE;
constexpr int kWarpRows = 16;                  // rows per warp: one wmma tile
constexpr int kTileRows = kWarps * kWarpRows;  // rows per block: queries, or keys (dK/dV pass)
constexpr int kForwardKeys = 64;               // keys per forward iteration
constexpr int kBackwardInner = 32;  // queries (dK/dV pass) or keys (dQ pass) per iteration
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- shared-memory layouts (byte offsets, each region 128-byte aligned) ----------------

constexpr size_t align128(size_t bytes) { return (bytes + 127) / 128 * 128; }

template <typename T16, int kHS> struct ForwardSmem {
  static constexpr int ldt = kHS + 8;           // Q, K, V tiles (T16)
  static constexpr int lds = kForwardKeys + 4;  // S (fp32), 16 rows per warp
  static constexpr int ldp = kForwardKeys + 8;  // P (T16), 16 rows per warp
  static constexpr size_t tile_bytes = align128(size_t{kTileRows} * ldt * sizeof(T16));
  static constexpr size_t q = 0, k = tile_bytes, v = 2 * tile_bytes, s = 3 * tile_bytes;
  static constexpr size_t p = s + align128(size_t{kTileRows} * lds * sizeof(float));
  static constexpr size_t row_scale = p + align128(size_t{kTileRows} * ldp * sizeof(T16));
  static constexpr size_t bytes = row_scale + align128(kTileRows * sizeof(float));
};

// Both backward passes: two 64-row "outer" tiles loaded once (K, V in the dK/dV pass; Q, dO
// in the dQ pass), two 32-row "inner" tiles per iteration (Q, dO; or K, V), per warp fp32
// S and dP and 16-bit P and dS (16 x 32 each), and lse and D of the inner queries.
template <typename T16, int kHS> struct BackwardSmem {
  static constexpr int ldt = kHS + 8;
  static constexpr int lds = kBackwardInner + 4;
  static constexpr int ldp = kBackwardInner + 8;
  static constexpr size_t outer_bytes = align128(size_t{kTileRows} * ldt * sizeof(T16));
  static constexpr size_t inner_bytes = align128(size_t{kBackwardInner} * ldt * sizeof(T16));
  static constexpr size_t f32_bytes = align128(size_t{kTileRows} * lds * sizeof(float));
  static constexpr size_t t16_bytes = align128(size_t{kTileRows} * ldp * sizeof(T16));
  static constexpr size_t outer0 = 0, outer1 = outer_bytes;
  static constexpr size_t inner0 = 2 * outer_bytes, inner1 = inner0 + inner_bytes;
  static constexpr size_t s = inner1 + inner_bytes, dp = s + f32_bytes;
  static constexpr size_t p = dp + f32_bytes, ds = p + t16_bytes;
  static constexpr size_t lse = ds + t16_bytes, d = lse + align128(kBackwardInner * sizeof(float));
  static constexpr size_t bytes = d + align128(kBackwardInner * sizeof(float));
};

// ---- device helpers ----------------------------------------------------------------------

__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
template <typename T16> __device__ T16 from_float(float x);  // round to nearest even
template <> __device__ __forceinline__ __nv_bfloat16 from_float(float x) {
  return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half from_float(float x) { return __float2half(x); }

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
__device__ bool find_tile(const int32_t* cu_seqlens, const FlashShape& s, int64_t x, SeqTile& tile,
                          int* error_flag) {
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

// Dropout scales for increasing Philox indices (ops.h: (h * N + i) * N + j for query i and
// key j): the four draws of a Philox block are computed once for neighbouring indices.
struct DropoutDraws {
  RngKey key;
  float p, keep_scale;
  uint64_t block = ~uint64_t{0};
  PhiloxCounter words{};

  __device__ float scale(uint64_t index) {
    if (p == 0.0f) return 1.0f;
    if (index >> 2 != block) {
      block = index >> 2;
      words = philox_block(key, block);
    }
    const uint32_t w = (index & 2) ? ((index & 1) ? words.c[3] : words.c[2])
                                   : ((index & 1) ? words.c[1] : words.c[0]);
    return u32_to_uniform(w) >= p ? keep_scale : 0.0f;
  }
};

// Rows [row0, row0 + kRows) of one head's (len, kHS) slice of a row-major matrix (src: its
// row 0, leading dimension ld elements) into shared memory (leading dimension lds), rows at
// or past len zeroed. 16-byte vectors (the entry points check the alignment); the whole
// block takes part.
template <int kRows, int kHS, typename T16> __device__ void load_rows(T16* dst, int lds,
                                                                      const T16* src, int64_t ld,
                                                                      int64_t row0, int64_t len) {
  constexpr int kVectors = kHS / 8;  // eight 16-bit values per vector
  for (int v = threadIdx.x; v < kRows * kVectors; v += blockDim.x) {
    const int r = v / kVectors, c = v % kVectors * 8;
    uint4 x = make_uint4(0, 0, 0, 0);
    if (row0 + r < len) x = *reinterpret_cast<const uint4*>(src + (row0 + r) * ld + c);
    *reinterpret_cast<uint4*>(dst + r * lds + c) = x;
  }
}

template <typename T16> using FragA =
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T16, wmma::row_major>;
template <typename T16, typename Layout> using FragB =
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T16, Layout>;
using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// out (16 x 16 kNT, fp32, leading dimension ldo) = A (16 x kK, row-major) B^T, with B a
// row-major (16 kNT x kK) matrix, read as wmma's col_major B: Q K^T, dO V^T, K Q^T, V dO^T.
template <int kNT, int kK, typename T16>
__device__ void warp_gemm_abt(float* out, int ldo, const T16* a, int lda, const T16* b, int ldb) {
  FragAcc acc[kNT];
#pragma unroll
  for (int n = 0; n < kNT; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
  for (int k = 0; k < kK; k += 16) {
    FragA<T16> fa;
    wmma::load_matrix_sync(fa, a + k, lda);
#pragma unroll
    for (int n = 0; n < kNT; ++n) {
      FragB<T16, wmma::col_major> fb;  // element (k', n') at b[n' * ldb + k']
      wmma::load_matrix_sync(fb, b + n * 16 * ldb + k, ldb);
      wmma::mma_sync(acc[n], fa, fb, acc[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < kNT; ++n)
    wmma::store_matrix_sync(out + n * 16, acc[n], ldo, wmma::mem_row_major);
}

// acc (16 x 16 kNT) += A (16 x kK, row-major) B (kK x 16 kNT, row-major): P V, (P M)^T dO,
// dS^T Q, dS K.
template <int kNT, int kK, typename T16>
__device__ void warp_gemm_ab(FragAcc (&acc)[kNT], const T16* a, int lda, const T16* b, int ldb) {
#pragma unroll
  for (int k = 0; k < kK; k += 16) {
    FragA<T16> fa;
    wmma::load_matrix_sync(fa, a + k, lda);
#pragma unroll
    for (int n = 0; n < kNT; ++n) {
      FragB<T16, wmma::row_major> fb;
      wmma::load_matrix_sync(fb, b + k * ldb + n * 16, ldb);
      wmma::mma_sync(acc[n], fa, fb, acc[n]);
    }
  }
}

// The row (0..15) of a 16x16 tile that each of this thread's accumulator slots holds: the
// warp loads a tile whose every element is its own row index. `stage`: the warp's fp32
// scratch, at least 16 x 16 (leading dimension lds).
struct AccumulatorRows {
  int row[FragAcc::num_elements];
};
__device__ AccumulatorRows accumulator_rows(float* stage, int lds) {
  const int lane = threadIdx.x % WARP_SIZE;
  for (int e = lane; e < 256; e += WARP_SIZE)
    stage[e / 16 * lds + e % 16] = static_cast<float>(e / 16);
  __syncwarp();
  FragAcc f;
  wmma::load_matrix_sync(f, stage, lds, wmma::mem_row_major);
  AccumulatorRows rows;
#pragma unroll
  for (int i = 0; i < FragAcc::num_elements; ++i) rows.row[i] = static_cast<int>(f.x[i]);
  __syncwarp();
  return rows;
}

// acc's row r *= row_scale[r] (the warp's 16 factors, in shared memory).
template <int kNT> __device__ void scale_rows(FragAcc (&acc)[kNT], const AccumulatorRows& rows,
                                              const float* row_scale) {
#pragma unroll
  for (int n = 0; n < kNT; ++n)
#pragma unroll
    for (int i = 0; i < FragAcc::num_elements; ++i) acc[n].x[i] *= row_scale[rows.row[i]];
}

// Writes scale * acc to rows [row0, row0 + 16) of a 16-bit matrix (dst: the head's row 0,
// leading dimension ld), skipping rows at or past len; with kAdd, adds to what is there in
// fp32 and rounds once. Each 16x16 tile passes through the warp's fp32 stage (lds).
template <bool kAdd, int kNT, typename T16>
__device__ void store_rows(const FragAcc (&acc)[kNT], float scale, float* stage, int lds, T16* dst,
                           int64_t ld, int64_t row0, int64_t len) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int r = lane / 2, c0 = lane % 2 * 8;  // each lane: 8 columns of one row
#pragma unroll
  for (int n = 0; n < kNT; ++n) {
    wmma::store_matrix_sync(stage, acc[n], lds, wmma::mem_row_major);
    __syncwarp();
    if (row0 + r < len) {
      T16* d = dst + (row0 + r) * ld + n * 16 + c0;
      for (int c = 0; c < 8; ++c) {
        float value = scale * stage[r * lds + c0 + c];
        if constexpr (kAdd) value += to_float(d[c]);
        d[c] = from_float<T16>(value);
      }
    }
    __syncwarp();  // the stage is rewritten next
  }
}

// A backward block's shared memory (BackwardSmem). Both passes have one shape: two outer
// tiles loaded once (K, V in the dK/dV pass; Q, dO in the dQ pass), two inner tiles per
// iteration (Q, dO; or K, V), and per warp S = outer0 inner0^T and dP = outer1 inner1^T for
// its 16 outer rows (the dK/dV pass so gets S^T and dP^T), from which it writes P and dS.
template <typename T16, int kHS> struct BackwardTiles {
  using L = BackwardSmem<T16, kHS>;
  T16 *outer0, *outer1, *inner0, *inner1;  // leading dimension L::ldt
  float *S, *dP;                           // the warp's 16 x 32 rows, L::lds
  T16 *P, *dS;                             // the warp's 16 x 32 rows, L::ldp
  float *lse2, *D;  // lse * log2(e) and D of the dK/dV pass's 32 inner queries
  int warp;

  __device__ BackwardTiles(unsigned char* smem, int warp_index)
      : outer0(reinterpret_cast<T16*>(smem + L::outer0)),
        outer1(reinterpret_cast<T16*>(smem + L::outer1)),
        inner0(reinterpret_cast<T16*>(smem + L::inner0)),
        inner1(reinterpret_cast<T16*>(smem + L::inner1)),
        S(reinterpret_cast<float*>(smem + L::s) + warp_index * kWarpRows * L::lds),
        dP(reinterpret_cast<float*>(smem + L::dp) + warp_index * kWarpRows * L::lds),
        P(reinterpret_cast<T16*>(smem + L::p) + warp_index * kWarpRows * L::ldp),
        dS(reinterpret_cast<T16*>(smem + L::ds) + warp_index * kWarpRows * L::ldp),
        lse2(reinterpret_cast<float*>(smem + L::lse)),
        D(reinterpret_cast<float*>(smem + L::d)),
        warp(warp_index) {}

  // Rows [row0, row0 + 64) of two head slices (load_rows' src, ld); visible after the first
  // load_inner's barriers.
  __device__ void load_outer(const T16* src0, int64_t ld0, const T16* src1, int64_t ld1,
                             int64_t row0, int64_t len) {
    load_rows<kTileRows, kHS>(outer0, L::ldt, src0, ld0, row0, len);
    load_rows<kTileRows, kHS>(outer1, L::ldt, src1, ld1, row0, len);
  }
  // Rows [row0, row0 + 32), once every warp is done with the previous ones. The caller adds
  // its own loads, then __syncthreads() before scores().
  __device__ void load_inner(const T16* src0, int64_t ld0, const T16* src1, int64_t ld1,
                             int64_t row0, int64_t len) {
    __syncthreads();
    load_rows<kBackwardInner, kHS>(inner0, L::ldt, src0, ld0, row0, len);
    load_rows<kBackwardInner, kHS>(inner1, L::ldt, src1, ld1, row0, len);
  }
  // The warp's S and dP, in shared memory and visible to all its lanes.
  __device__ void scores() const {
    const int at = warp * kWarpRows * L::ldt;
    warp_gemm_abt<kBackwardInner / 16, kHS>(S, L::lds, outer0 + at, L::ldt, inner0, L::ldt);
    warp_gemm_abt<kBackwardInner / 16, kHS>(dP, L::lds, outer1 + at, L::ldt, inner1, L::ldt);
    __syncwarp();
  }
};

// ---- kernels -----------------------------------------------------------------------------

// grid (tiles, NH), kThreads threads; shared memory ForwardSmem.
template <typename T16, int kHS> __global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(T16* out, float* lse, const T16* qkv, const int32_t* cu_seqlens,
                         FlashShape s, RngKey key, int* error_flag) {
#ifdef MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
  __trap();
#else
  using L = ForwardSmem<T16, kHS>;
  extern __shared__ __align__(128) unsigned char smem[];
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  T16* Qs = reinterpret_cast<T16*>(smem + L::q);
  T16* Ks = reinterpret_cast<T16*>(smem + L::k);
  T16* Vs = reinterpret_cast<T16*>(smem + L::v);
  float* Sw = reinterpret_cast<float*>(smem + L::s) + warp * kWarpRows * L::lds;
  T16* Pw = reinterpret_cast<T16*>(smem + L::p) + warp * kWarpRows * L::ldp;
  float* row_scale = reinterpret_cast<float*>(smem + L::row_scale) + warp * kWarpRows;
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;  // the sequence's row 0 for head h
  load_rows<kTileRows, kHS>(Qs, L::ldt, q_head, ld, tile.row0, tile.len);
  const AccumulatorRows rows = accumulator_rows(Sw, L::lds);
  FragAcc o[kHS / 16];
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) wmma::fill_fragment(o[n], 0.0f);

  // Lanes 2r and 2r+1 own row r of the warp's S: half the keys each, the same statistics.
  const int r = lane / 2, c0 = lane % 2 * (kForwardKeys / 2);
  const int64_t i = tile.row0 + warp * kWarpRows + r;  // query within the sequence
  const uint64_t drop_row =
      static_cast<uint64_t>((h * s.N + tile.s0 + i) * s.N + tile.s0);  // key 0's index
  float m = -INFINITY, l = 0.0f;  // running max (log2 units) and sum of un-dropped exp
  DropoutDraws drops{key, s.dropout_p, s.keep_scale};
  for (int64_t k0 = 0; k0 < tile.len; k0 += kForwardKeys) {
    __syncthreads();  // every warp is done with the previous K and V
    load_rows<kForwardKeys, kHS>(Ks, L::ldt, q_head + s.C, ld, k0, tile.len);
    load_rows<kForwardKeys, kHS>(Vs, L::ldt, q_head + 2 * s.C, ld, k0, tile.len);
    __syncthreads();
    warp_gemm_abt<kForwardKeys / 16, kHS>(Sw, L::lds, Qs + warp * kWarpRows * L::ldt, L::ldt, Ks,
                                          L::ldt);
    __syncwarp();
    // Key k0 exists, so every row's max over the tile is finite.
    const float* srow = Sw + r * L::lds + c0;
    float tile_max = -INFINITY;
    for (int c = 0; c < kForwardKeys / 2; ++c)
      if (k0 + c0 + c < tile.len) tile_max = fmaxf(tile_max, srow[c]);
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarpMask, tile_max, 1));
    const float m_new = fmaxf(m, tile_max * s.scale_log2);
    const float alpha = exp2f(m - m_new);  // 0 on the first tile (m = -inf)
    float sum = 0.0f;
    for (int c = 0; c < kForwardKeys / 2; ++c) {
      const int64_t j = k0 + c0 + c;
      float p = 0.0f, dropped = 0.0f;
      if (j < tile.len) {
        p = exp2f(srow[c] * s.scale_log2 - m_new);
        dropped = p * drops.scale(drop_row + static_cast<uint64_t>(j));
      }
      sum += p;
      Pw[r * L::ldp + c0 + c] = from_float<T16>(dropped);
    }
    sum += __shfl_xor_sync(kFullWarpMask, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    if (lane % 2 == 0) row_scale[r] = alpha;
    __syncwarp();
    scale_rows(o, rows, row_scale);
    warp_gemm_ab<kHS / 16, kForwardKeys>(o, Pw, L::ldp, Vs, L::ldt);
    __syncwarp();  // row_scale is rewritten next
  }
  // Padding rows (i >= len) saw zero queries, so their l > 0 too; they are not written.
  if (lane % 2 == 0) {
    row_scale[r] = 1.0f / l;
    if (i < tile.len) lse[h * s.N + tile.s0 + i] = (m + log2f(l)) * kLn2;
  }
  __syncwarp();
  scale_rows(o, rows, row_scale);
  store_rows<false>(o, 1.0f, Sw, L::lds, out + tile.s0 * s.C + h * kHS, s.C,
                    tile.row0 + warp * kWarpRows, tile.len);
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

// dK, dV of a 64-key tile, over 32-query tiles. grid (tiles, NH); shared BackwardSmem.
template <typename T16, int kHS> __global__ void __launch_bounds__(kThreads)
    flash_backward_dkv_kernel(T16* dqkv, const float* D, const T16* dout, const T16* qkv,
                              const float* lse, const int32_t* cu_seqlens, FlashShape s, RngKey key,
                              int* error_flag) {
#ifdef MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
  __trap();
#else
  using L = BackwardSmem<T16, kHS>;
  extern __shared__ __align__(128) unsigned char smem[];
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  BackwardTiles<T16, kHS> t(smem, warp);  // outer: K, V; inner: Q, dO
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;
  const T16* dout_head = dout + tile.s0 * s.C + h * kHS;
  t.load_outer(q_head + s.C, ld, q_head + 2 * s.C, ld, tile.row0, tile.len);
  FragAcc dk[kHS / 16], dv[kHS / 16];
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n)
    wmma::fill_fragment(dk[n], 0.0f), wmma::fill_fragment(dv[n], 0.0f);

  // The warp's S^T and dP^T are (16 keys, 32 queries); lane c owns query column c and walks
  // the 16 keys, whose dropout indices are consecutive.
  const int64_t j0 = tile.row0 + warp * kWarpRows;  // the warp's first key within the sequence
  DropoutDraws drops{key, s.dropout_p, s.keep_scale};
  for (int64_t q0 = 0; q0 < tile.len; q0 += kBackwardInner) {
    t.load_inner(q_head, ld, dout_head, s.C, q0, tile.len);
    if (threadIdx.x < kBackwardInner) {
      const int64_t i = q0 + threadIdx.x;
      const bool valid = i < tile.len;
      t.lse2[threadIdx.x] = valid ? lse[h * s.N + tile.s0 + i] * kLog2e : 0.0f;
      t.D[threadIdx.x] = valid ? D[h * s.N + tile.s0 + i] : 0.0f;
    }
    __syncthreads();
    t.scores();
    const int64_t i = q0 + lane;
    const float lse2 = t.lse2[lane], Di = t.D[lane];
    const uint64_t drop_row = static_cast<uint64_t>((h * s.N + tile.s0 + i) * s.N + tile.s0 + j0);
    for (int r = 0; r < kWarpRows; ++r) {
      float p_dropped = 0.0f, ds = 0.0f;
      if (i < tile.len && j0 + r < tile.len) {
        const float p = exp2f(t.S[r * L::lds + lane] * s.scale_log2 - lse2);
        const float m = drops.scale(drop_row + r);
        p_dropped = p * m;
        ds = p * (m * t.dP[r * L::lds + lane] - Di);
      }
      t.P[r * L::ldp + lane] = from_float<T16>(p_dropped);
      t.dS[r * L::ldp + lane] = from_float<T16>(ds);
    }
    __syncwarp();
    warp_gemm_ab<kHS / 16, kBackwardInner>(dv, t.P, L::ldp, t.inner1, L::ldt);   // (P M)^T dO
    warp_gemm_ab<kHS / 16, kBackwardInner>(dk, t.dS, L::ldp, t.inner0, L::ldt);  // dS^T Q
  }
  T16* dk_head = dqkv + tile.s0 * ld + s.C + h * kHS;
  store_rows<true>(dk, s.scale, t.S, L::lds, dk_head, ld, j0, tile.len);
  store_rows<true>(dv, 1.0f, t.S, L::lds, dk_head + s.C, ld, j0, tile.len);
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
  using L = BackwardSmem<T16, kHS>;
  extern __shared__ __align__(128) unsigned char smem[];
  SeqTile tile;
  if (!find_tile(cu_seqlens, s, blockIdx.x, tile, error_flag)) return;
  const int64_t h = blockIdx.y, ld = 3 * s.C;
  const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
  BackwardTiles<T16, kHS> t(smem, warp);  // outer: Q, dO; inner: K, V
  const T16* q_head = qkv + tile.s0 * ld + h * kHS;
  t.load_outer(q_head, ld, dout + tile.s0 * s.C + h * kHS, s.C, tile.row0, tile.len);
  FragAcc dq[kHS / 16];
#pragma unroll
  for (int n = 0; n < kHS / 16; ++n) wmma::fill_fragment(dq[n], 0.0f);

  // Lanes 2r and 2r+1 own row r of the warp's (16 queries, 32 keys): 16 consecutive keys each.
  const int r = lane / 2, c0 = lane % 2 * (kBackwardInner / 2);
  const int64_t i0 = tile.row0 + warp * kWarpRows, i = i0 + r;
  const bool valid = i < tile.len;
  const float lse2 = valid ? lse[h * s.N + tile.s0 + i] * kLog2e : 0.0f;
  const float Di = valid ? D[h * s.N + tile.s0 + i] : 0.0f;
  const uint64_t drop_row = static_cast<uint64_t>((h * s.N + tile.s0 + i) * s.N + tile.s0);
  DropoutDraws drops{key, s.dropout_p, s.keep_scale};
  for (int64_t k0 = 0; k0 < tile.len; k0 += kBackwardInner) {
    t.load_inner(q_head + s.C, ld, q_head + 2 * s.C, ld, k0, tile.len);
    __syncthreads();
    t.scores();
    for (int c = c0; c < c0 + kBackwardInner / 2; ++c) {
      const int64_t j = k0 + c;
      float ds = 0.0f;
      if (valid && j < tile.len) {
        const float p = exp2f(t.S[r * L::lds + c] * s.scale_log2 - lse2);
        ds = p * (drops.scale(drop_row + static_cast<uint64_t>(j)) * t.dP[r * L::lds + c] - Di);
      }
      t.dS[r * L::ldp + c] = from_float<T16>(ds);
    }
    __syncwarp();
    warp_gemm_ab<kHS / 16, kBackwardInner>(dq, t.dS, L::ldp, t.inner0, L::ldt);  // dS K
  }
  store_rows<true>(dq, s.scale, t.S, L::lds, dqkv + tile.s0 * ld + h * kHS, ld, i0, tile.len);
#endif  // MASKLM_FLASH_ATTENTION_UNSUPPORTED_ARCH
}

// ---- launchers ---------------------------------------------------------------------------

FlashShape make_flash_shape(CudaContext& cc, int64_t B, int64_t N, int64_t C, int64_t NH,
                            float dropout_p) {
  MASKLM_CHECK(NH > 0 && C % NH == 0,
               "fused attention: hidden size {} is not divisible by {} heads", C, NH);
  MASKLM_CHECK(NH <= 65535, "fused attention: at most 65535 heads, got {}", NH);
  MASKLM_CHECK(flash_attention_supports_head_size(C / NH),
               "fused attention: head size {} is not 32, 64 or 128", C / NH);
  MASKLM_CHECK(dropout_p >= 0.0f && dropout_p < 1.0f,
               "fused attention: dropout probability {} not in [0, 1)", dropout_p);
  MASKLM_CHECK(cc.sm_major() >= 8,
               "fused attention needs sm_80 or newer (bf16 tensor cores); this GPU is sm_{}x",
               cc.sm_major());
  const float scale = 1.0f / std::sqrt(static_cast<float>(C / NH));
  return {B, N, C, scale, scale * kLog2e, dropout_p, 1.0f / (1.0f - dropout_p)};
}

// The 16-byte vector loads need every 16-bit matrix 16-byte aligned (C is a multiple of 32,
// so every row and head offset then is too).
void check_aligned(const void* p, const char* name) {
  MASKLM_CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0,
               "fused attention: {} is not 16-byte aligned", name);
}

// Calls fn.template operator()<T16, kHS>() for the dtype and head size.
template <typename Fn> void dispatch_flash(DType dtype, int64_t HS, Fn&& fn) {
  const auto with_head_size = [&]<typename T16>() {
    switch (HS) {
      case 32: fn.template operator()<T16, 32>(); return;
      case 64: fn.template operator()<T16, 64>(); return;
      case 128: fn.template operator()<T16, 128>(); return;
      default: MASKLM_FAIL("fused attention: head size {} is not 32, 64 or 128", HS);
    }
  };
  switch (dtype) {
    case DType::BF16: with_head_size.template operator()<__nv_bfloat16>(); return;
    case DType::F16: with_head_size.template operator()<__half>(); return;
    default: MASKLM_FAIL("fused attention computes in BF16 or F16, got {}", dtype_name(dtype));
  }
}

// One launch of a tiled kernel over (tiles, heads) with `smem` bytes of shared memory.
template <typename Kernel, typename... Args> void launch_tiles(CudaContext& cc, Kernel kernel,
                                                               size_t smem, const FlashShape& s,
                                                               int64_t NH, Args... args) {
  int max_smem = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                    cc.device_index()));
  MASKLM_CHECK(smem <= static_cast<size_t>(max_smem),
               "fused attention needs {} bytes of shared memory, the GPU has {}", smem, max_smem);
  set_max_dynamic_smem(kernel, smem);
  const dim3 grid(static_cast<unsigned>(s.N / kTileRows + s.B), static_cast<unsigned>(NH));
  kernel<<<grid, kThreads, smem, cc.stream()>>>(args...);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

// ---- entry points --------------------------------------------------------------------------

bool flash_attention_supports_head_size(int64_t HS) { return HS == 32 || HS == 64 || HS == 128; }

bool flash_attention_applies(CudaContext& cc, int64_t HS) {
  return flash_attention_supports_head_size(HS) && cc.sm_major() >= 8;
}

void flash_attention_forward(CudaContext& cc, DType dtype, void* out, float* lse, const void* qkv,
                             const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C, int64_t NH,
                             float dropout_p, const RngKey& key) {
  const FlashShape s = make_flash_shape(cc, B, N, C, NH, dropout_p);
  check_aligned(out, "out");
  check_aligned(qkv, "qkv");
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  dispatch_flash(dtype, C / NH, [&]<typename T16, int kHS>() {
    launch_tiles(cc, flash_forward_kernel<T16, kHS>, ForwardSmem<T16, kHS>::bytes, s, NH,
                 static_cast<T16*>(out), lse, static_cast<const T16*>(qkv), cu_seqlens, s, key,
                 cc.error_flag());
  });
}

void flash_attention_backward(CudaContext& cc, DType dtype, void* dqkv, const void* dout,
                              const void* out, const void* qkv, const float* lse,
                              const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                              int64_t NH, float dropout_p, const RngKey& key) {
  const FlashShape s = make_flash_shape(cc, B, N, C, NH, dropout_p);
  check_aligned(dqkv, "dqkv");
  check_aligned(dout, "dout");
  check_aligned(out, "out");
  check_aligned(qkv, "qkv");
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  ScratchPlan plan;
  const size_t D_at = plan.add<float>(NH * N);
  float* D = ScratchPlan::at<float>(cc.scratch(plan.bytes), D_at);
  dispatch_flash(dtype, C / NH, [&]<typename T16, int kHS>() {
    auto* dq = static_cast<T16*>(dqkv);
    const auto* dO = static_cast<const T16*>(dout);
    const auto* x = static_cast<const T16*>(qkv);
    flash_backward_dot_kernel<<<grid_stride_blocks(N * NH * WARP_SIZE, 256), 256, 0, cc.stream()>>>(
        D, dO, static_cast<const T16*>(out), N, C, NH);
    CUDA_CHECK_LAUNCH();
    const size_t smem = BackwardSmem<T16, kHS>::bytes;
    launch_tiles(cc, flash_backward_dkv_kernel<T16, kHS>, smem, s, NH, dq,
                 static_cast<const float*>(D), dO, x, lse, cu_seqlens, s, key, cc.error_flag());
    launch_tiles(cc, flash_backward_dq_kernel<T16, kHS>, smem, s, NH, dq,
                 static_cast<const float*>(D), dO, x, lse, cu_seqlens, s, key, cc.error_flag());
  });
}

}  // namespace masklm::cuda
