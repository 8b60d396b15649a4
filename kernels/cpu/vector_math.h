// exp for the softmax-shaped row loops of the CPU kernels (attention, the MLM head's
// cross-entropy). std::exp is a scalar library call, and those loops spent most of their
// non-GEMM time in it; exp_approx is a branch-free polynomial the compiler vectorizes.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace masklm::cpu {

// exp(x) within 1.5 ulp (measured: under 1) for -87.33 <= x <= 88.37 (results from the
// smallest normal float, about 1.2e-38, to 2^127·√2). Below that range it returns 0, above
// it +inf (so it overflows from 88.38 where exp overflows from 88.73), NaN stays NaN.
// Cody-Waite reduction x = k·ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial
// for e^r, scaled by 2^k built in the exponent bits.
inline float exp_approx(float x) {
  constexpr float kLow = -87.33654f, kHigh = 88.37626f;
  // Selects, not branches, and none nested, so the loops calling this vectorize.
  float v = x < kLow ? kLow : x;
  v = v > kHigh ? kHigh : v;
  // Adding 1.5·2^23 rounds x/ln2 to the integer k, which lands in the low mantissa bits.
  constexpr float kRound = 12582912.0f;
  const float shifted = v * 1.44269504088896341f + kRound;
  const float k = shifted - kRound;
  const float r = (v - k * 0.693359375f) + k * 2.12194440e-4f;  // ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t k_int = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);
  const float y = p * std::bit_cast<float>((k_int + 127) << 23);
  const float low = x < kLow ? 0.0f : y;
  return x > kHigh ? std::numeric_limits<float>::infinity() : low;
}

// x[i] = scale · exp(x[i] - shift) for i < n: exp_approx for float rows (built for AVX2 and
// FMA too where the compiler can, picked at run time), std::exp for double rows (the
// gradient checks).
void exp_shifted(float* x, int64_t n, float shift, float scale = 1.0f);
void exp_shifted(double* x, int64_t n, double shift, double scale = 1.0);

}  // namespace masklm::cpu
