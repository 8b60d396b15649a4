// exp and the normal CDF for the CPU kernels' elementwise loops (softmax in attention and
// the MLM head's cross-entropy, GELU). std::exp and std::erf are scalar library calls, and
// those loops spent most of their non-GEMM time in them; these are branch-free polynomials
// the compiler vectorizes.
#pragma once

// The rounding trick below (kRoundToInteger) needs IEEE evaluation order.
#ifdef __FAST_MATH__
#error "kernels/cpu/vector_math.h needs IEEE float semantics: build without -ffast-math"
#endif

#include <bit>
#include <cstdint>
#include <limits>

namespace masklm::cpu {

// Adding 1.5·2^23 to a float of magnitude below 2^22 rounds it to an integer, which lands in
// the low mantissa bits; subtracting it again leaves that integer as a float.
constexpr float kRoundToInteger = 12582912.0f;

// exp(x) within 1.5 ulp (measured 1.0) for -87.33 <= x <= 88.37 (results from the
// smallest normal float, about 1.2e-38, to 2^127·√2). Below that range it returns 0, above
// it +inf (so it overflows from 88.38 where exp overflows from 88.73), NaN stays NaN.
// Cody-Waite reduction x = k·ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial
// for e^r, scaled by 2^k built in the exponent bits.
inline float exp_approx(float x) {
  constexpr float kLow = -87.33654f, kHigh = 88.37626f;
  // Selects, not branches, and none nested, so the loops calling this vectorize.
  float v = x < kLow ? kLow : x;
  v = v > kHigh ? kHigh : v;
  const float shifted = v * 1.44269504088896341f + kRoundToInteger;  // x/ln2 rounded to k
  const float k = shifted - kRoundToInteger;
  const float r = (v - k * 0.693359375f) + k * 2.12194440e-4f;  // ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // k + 127 in the exponent field, in unsigned arithmetic (NaN inputs bring any bits).
  const uint32_t biased_k =
      std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRoundToInteger) + 127u;
  const float y = p * std::bit_cast<float>(biased_k << 23);
  const float low = x < kLow ? 0.0f : y;
  return x > kHigh ? std::numeric_limits<float>::infinity() : low;
}

// a²/2 = hi + lo for 0 <= a <= 13.5, with hi = a_hi²/2 exact (a_hi is a rounded to a
// multiple of 1/16) and |lo| < 0.43 correct to 5e-8: e^hi · e^lo then keeps the precision
// that e^(a²/2) would lose to the rounding of a² (2^-25·a² relative, 30 ulp at a = 8).
struct HalfSquare {
  float hi, lo;
};
inline HalfSquare half_square(float a) {
  const float a_hi = ((a * 16.0f + kRoundToInteger) - kRoundToInteger) * 0.0625f;
  return {0.5f * a_hi * a_hi, 0.5f * (a - a_hi) * (a + a_hi)};
}

// |x| clamped to 13.5 (φ and the lower tail of Φ are 0 from 13.22); NaN stays NaN.
inline float normal_abs(float x) {
  const float abs_x = x < 0 ? -x : x;
  return abs_x > 13.5f ? 13.5f : abs_x;
}

// Φ(x), the standard normal CDF. The lower tail is Φ(-a) = t/2 · exp(p(u) - a²/2) with
// t = 1/(1 + a/4), u = 1 - t and p of degree 9 fitted by scripts/fit_normal_cdf.py
// (relative error 6e-8), so it keeps its relative precision far out, where
// 1 + erf(x/√2) cancels; the upper half is 1 minus the tail. Within 7 ulp (measured 6.5)
// wherever Φ is a normal float (x > -12.95); between there and -13.22 Φ is a subnormal
// with fewer correct bits, below it 0.
inline float normal_cdf(float x) {
  // degree 9, K = 0.25, largest relative error of the tail 5.94e-08
  constexpr float kTailPoly[] = {1.555532068e-01f,  -7.797462940e-01f, 1.377169609e+00f,
                                 -8.457087278e-01f, -1.639627218e-01f, -1.424110588e-02f,
                                 6.348134279e-01f,  2.152773738e-01f,  -2.191534281e+00f};
  const float a = normal_abs(x);
  const float t = 1.0f / (1.0f + 0.25f * a), u = 1.0f - t;
  float p = kTailPoly[0];
  for (int i = 1; i < 9; ++i) p = p * u + kTailPoly[i];
  p *= u;  // p(0) = 0: no constant term
  const HalfSquare h = half_square(a);
  const float tail = 0.5f * t * exp_approx(-h.hi) * exp_approx(p - h.lo);
  return x < 0 ? tail : 1.0f - tail;
}

// φ(x), the standard normal density: within 4 ulp (measured 3.1) where it is a normal
// float (|x| < 13.14); a subnormal with fewer correct bits out to 13.22, 0 beyond.
inline float normal_pdf(float x) {
  const HalfSquare h = half_square(normal_abs(x));
  return 0.398942280f * exp_approx(-h.hi) * exp_approx(-h.lo);
}

// Row kernels: exp_approx and normal_cdf for float rows (built for AVX2 and FMA too where
// the compiler can, picked at run time), std::exp and std::erfc for double rows (the
// gradient checks).
// x[i] = scale · exp(x[i] - shift) for i < n; +inf where x[i] - shift > 88.37 (softmax
// rows have x[i] - shift <= 0).
void exp_shifted(float* x, int64_t n, float shift, float scale = 1.0f);
void exp_shifted(double* x, int64_t n, double shift, double scale = 1.0);
// out[i] = gelu(in[i]) = in[i] · Φ(in[i]) (the exact form, not the tanh one), within 7.5
// ulp where Φ(in[i]) is a normal float; out may alias in.
void gelu_contiguous(float* out, const float* in, int64_t n);
void gelu_contiguous(double* out, const double* in, int64_t n);
// din[i] += dout[i] · gelu'(in[i]), gelu'(x) = Φ(x) + x · φ(x).
void gelu_backward_contiguous(float* din, const float* dout, const float* in, int64_t n);
void gelu_backward_contiguous(double* din, const double* dout, const double* in, int64_t n);

}  // namespace masklm::cpu
