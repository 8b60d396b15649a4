#include "kernels/cpu/vector_math.h"

#include <cmath>

// One clone per instruction set, chosen when the program loads (GCC and Clang on x86-64
// ELF systems, whose loaders resolve the clones through ifuncs).
#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define MASKLM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MASKLM_CPU_CLONES
#endif

namespace masklm::cpu {

MASKLM_CPU_CLONES void exp_shifted(float* x, int64_t n, float shift, float scale) {
  for (int64_t i = 0; i < n; ++i) x[i] = scale * exp_approx(x[i] - shift);
}

void exp_shifted(double* x, int64_t n, double shift, double scale) {
  for (int64_t i = 0; i < n; ++i) x[i] = scale * std::exp(x[i] - shift);
}

}  // namespace masklm::cpu
