// How close a result must be to its reference, per dtype, defined once for the CPU tests
// (tests/test_ops_16bit.cpp) and the GPU op tests (tests/gpu/op_harness.cuh).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/half.h"

namespace masklm::testing {

// Bounds on NMSE = sum (got - ref)^2 / sum ref^2, per dtype. fp32 results that differ
// only in summation order and fused multiply-adds land near 1e-13; reductions over
// thousands of terms near 1e-11.
// 16-bit results are compared with the op run in F64 on the same 16-bit-rounded inputs,
// so the error is what the 16-bit computation adds: fp32 arithmetic (negligible) and
// rounding each stored value once. Rounding to nearest errs by at most u |x| (u = 2^-8 for
// bf16's 8-bit significand, 2^-11 for fp16's 11), on average u^2/3 |x|^2 squared, so one
// rounding gives NMSE ~ 2e-5 (bf16) and ~ 2.5e-7 (fp16) at worst and about a third of that
// typically; the bounds leave 5x-10x headroom for kernels that round an intermediate too
// (a 16-bit += reads a value that was itself rounded).
inline double nmse_bound(DType dtype) {
  switch (dtype) {
    case DType::F32: return 1e-9;
    case DType::BF16: return 1e-4;
    case DType::F16: return 2e-6;
    default: return 0.0;
  }
}

// NaN/Inf in the same places, a non-zero reference, and NMSE within `bound`.
template <typename T> void expect_close(const std::vector<T>& got, const std::vector<T>& ref,
                                        double bound, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double diff = 0, norm = 0;
  int64_t nonfinite_mismatches = 0, first_mismatch = -1;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = got[i], r = ref[i];
    if (!std::isfinite(g) || !std::isfinite(r)) {
      const bool same = (std::isnan(g) && std::isnan(r)) || g == r;
      if (!same && nonfinite_mismatches++ == 0) first_mismatch = static_cast<int64_t>(i);
      continue;
    }
    diff += (g - r) * (g - r);
    norm += r * r;
  }
  const auto at = static_cast<size_t>(std::max<int64_t>(first_mismatch, 0));
  EXPECT_EQ(nonfinite_mismatches, 0)
      << what << ": NaN/Inf differ from the reference, first at " << first_mismatch << " (got "
      << got[at] << ", reference " << ref[at] << ")";
  EXPECT_GT(norm, 0.0) << what << ": the reference is all zeros, so the comparison proves nothing";
  EXPECT_LE(diff / std::max(norm, 1e-300), bound) << what << ": NMSE above the bound";
}

// Each 16-bit result is its exact value rounded once to the nearest 16-bit value, bit for
// bit: what a kernel that sums in fp32 and rounds once gives whenever its fp32 sums are
// exact (operands on a coarse grid, sums within fp32's 24 bits), in any order, on any
// hardware. Rounding twice (partial sums stored in 16 bits) breaks it where an NMSE bound
// lets it through.
inline void expect_rounded_once(const std::vector<double>& got, const std::vector<double>& exact,
                                DType dtype, const std::string& what) {
  ASSERT_EQ(got.size(), exact.size()) << what;
  int64_t wrong = 0, first = -1;
  for (size_t i = 0; i < exact.size(); ++i) {
    const auto as_float = static_cast<float>(exact[i]);
    ASSERT_EQ(static_cast<double>(as_float), exact[i])
        << what << ": the exact value at " << i
        << " needs more than fp32's bits; the test's sums are not exact";
    if (got[i] == float_from_16bit(dtype, float_to_16bit(dtype, as_float))) continue;
    if (wrong++ == 0) first = static_cast<int64_t>(i);
  }
  const auto at = static_cast<size_t>(std::max<int64_t>(first, 0));
  EXPECT_EQ(wrong, 0) << what << ": " << wrong << " of " << exact.size()
                      << " values are not their exact value rounded once, first at " << first
                      << " (got " << got[at] << ", exact " << exact[at] << ")";
}

}  // namespace masklm::testing
