#include "kernels/cpu/vector_math.h"

#include <cmath>

// One clone per instruction set, chosen when the program loads through an ifunc: x86-64
// glibc, and compilers that know target_clones("arch=...") (GCC 12, Clang 18).
#if defined(__clang__)
#define MASKLM_CLONES_COMPILER (__clang_major__ >= 18)
#elif defined(__GNUC__)
#define MASKLM_CLONES_COMPILER (__GNUC__ >= 12)
#else
#define MASKLM_CLONES_COMPILER 0
#endif
#if defined(__x86_64__) && defined(__GLIBC__) && MASKLM_CLONES_COMPILER
#define MASKLM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MASKLM_CPU_CLONES
#endif

namespace masklm::cpu {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

}  // namespace

MASKLM_CPU_CLONES void exp_shifted(float* x, int64_t n, float shift, float scale) {
  for (int64_t i = 0; i < n; ++i) x[i] = scale * exp_approx(x[i] - shift);
}

void exp_shifted(double* x, int64_t n, double shift, double scale) {
  for (int64_t i = 0; i < n; ++i) x[i] = scale * std::exp(x[i] - shift);
}

MASKLM_CPU_CLONES void gelu_contiguous(float* out, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * normal_cdf(in[i]);
}

// Φ(x) = erfc(-x/√2)/2 rather than (1 + erf(x/√2))/2, which cancels in the lower tail.
void gelu_contiguous(double* out, const double* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5 * in[i] * std::erfc(-in[i] * kInvSqrt2);
}

MASKLM_CPU_CLONES void gelu_backward_contiguous(float* din, const float* dout, const float* in,
                                                int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    din[i] += dout[i] * (normal_cdf(in[i]) + in[i] * normal_pdf(in[i]));
}

void gelu_backward_contiguous(double* din, const double* dout, const double* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double cdf = 0.5 * std::erfc(-in[i] * kInvSqrt2);
    din[i] += dout[i] * (cdf + in[i] * kInvSqrt2Pi * std::exp(-0.5 * in[i] * in[i]));
  }
}

}  // namespace masklm::cpu
