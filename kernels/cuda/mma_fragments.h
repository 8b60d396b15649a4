// Which matrix element each lane holds in the two warp-wide tensor-core instructions the
// fused attention is built on (PTX ISA: "Matrix fragments for mma.m16n8k16 with floating
// point type" and "ldmatrix"), as index functions, checked against each other at compile
// time (layouts_agree); tests/emulation runs the kernels that use them on the CPU against
// its own decoding of the ISA's tables. A lane is 4 * group + quad (the ISA's groupID and
// threadID_in_group).
//
// mma.sync.m16n8k16 (bf16/f16 inputs, fp32 accumulators), D (16x8) = A (16x16) B (16x8) + C:
//   A: 4 registers of two 16-bit values (low half first); register r, half e holds
//      A[a_row(lane, r)][a_col(lane, r, e)];
//   B: 2 registers; register r, half e holds B[b_k(lane, r, e)][b_n(lane)];
//   C, D: 4 floats; value v holds C[acc_row(lane, v)][acc_col(lane, v)].
// ldmatrix.x4 loads four 8x8 16-bit matrices: lanes 8m..8m+7 give the shared-memory
// addresses of matrix m's rows, and register m of lane l receives row l / 4, columns
// 2 (l % 4) and 2 (l % 4) + 1 of matrix m, or with .trans its rows 2 (l % 4) and
// 2 (l % 4) + 1 of column l / 4.
#pragma once

#include "runtime/host_device.h"

namespace masklm::cuda::mma {

MASKLM_HD constexpr int group(int lane) { return lane / 4; }
MASKLM_HD constexpr int quad(int lane) { return lane % 4; }

MASKLM_HD constexpr int a_row(int lane, int r) { return group(lane) + 8 * (r % 2); }
MASKLM_HD constexpr int a_col(int lane, int r, int e) { return 2 * quad(lane) + e + 8 * (r / 2); }
MASKLM_HD constexpr int b_k(int lane, int r, int e) { return 2 * quad(lane) + e + 8 * r; }
MASKLM_HD constexpr int b_n(int lane) { return group(lane); }
MASKLM_HD constexpr int acc_row(int lane, int v) { return group(lane) + 8 * (v / 2); }
MASKLM_HD constexpr int acc_col(int lane, int v) { return 2 * quad(lane) + v % 2; }

// Where each lane points ldmatrix.x4 inside a 16x16 tile of a row-major shared-memory
// matrix (row, column relative to the tile's corner); the four registers then hold:
//  - tile_row/tile_col: the tile as an A operand (registers 0..3 = A's registers), or,
//    with .trans, the tile read as B (k = tile row, n = tile column) for two 8-column
//    n-slices: registers 0, 1 the first slice's B, registers 2, 3 the second's;
//  - bt_row/bt_col, without .trans: the tile read as B^T (n = tile row, k = tile column),
//    B for rows 0-7 (registers 0, 1) and rows 8-15 (registers 2, 3).
MASKLM_HD constexpr int tile_row(int lane) { return lane % 16; }
MASKLM_HD constexpr int tile_col(int lane) { return lane / 16 * 8; }
MASKLM_HD constexpr int bt_row(int lane) { return lane % 8 + lane / 16 * 8; }
MASKLM_HD constexpr int bt_col(int lane) { return lane / 8 % 2 * 8; }

// An accumulator of 16 x 16 (two 8-column tiles n0, n1) reused as an A operand of the next
// mma (k = the accumulator's columns), as in FlashAttention-2 where P never leaves
// registers: A's register r packs values (acc_value(r), acc_value(r) + 1) of tile
// acc_tile(r).
MASKLM_HD constexpr int acc_tile(int r) { return r / 2; }
MASKLM_HD constexpr int acc_value(int r) { return 2 * (r % 2); }

// Whether the addresses above, read by ldmatrix as the ISA defines it (header comment),
// give the mma operands as the ISA lays them out, and whether the accumulator reuse does.
// That leaves the ISA-side functions (a_*, b_*, acc_*) and the PTX in mma.cuh, which
// tests/emulation checks against the ISA's tables written out on their own.
constexpr bool layouts_agree() {
  for (int l = 0; l < 32; ++l)
    for (int e = 0; e < 2; ++e) {
      for (int m = 0; m < 4; ++m) {
        const int row_lane = 8 * m + group(l);           // gives row l / 4 of matrix m
        const int trans_lane = 8 * m + 2 * quad(l) + e;  // gives row 2 (l % 4) + e, .trans
        const bool a = tile_row(row_lane) == a_row(l, m) &&
                       tile_col(row_lane) + 2 * quad(l) + e == a_col(l, m, e);
        const bool b = tile_row(trans_lane) == b_k(l, m % 2, e) &&
                       tile_col(trans_lane) + group(l) == 8 * (m / 2) + b_n(l);
        const bool bt = bt_row(row_lane) == 8 * (m / 2) + b_n(l) &&
                        bt_col(row_lane) + 2 * quad(l) + e == b_k(l, m % 2, e);
        if (!(a && b && bt)) return false;
      }
      for (int r = 0; r < 4; ++r) {
        const int v = acc_value(r) + e;
        if (acc_row(l, v) != a_row(l, r) || 8 * acc_tile(r) + acc_col(l, v) != a_col(l, r, e))
          return false;
      }
    }
  return true;
}
static_assert(layouts_agree(),
              "mma_fragments.h: the ldmatrix addresses or the accumulator "
              "reuse disagree with the mma operand layouts");

}  // namespace masklm::cuda::mma
