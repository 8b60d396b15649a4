#include "kernels/cpu/layernorm.h"

#include <cmath>

#include "kernels/cpu/rows.h"

namespace masklm::cpu {

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* in, const T* weight, const T* bias,
                       int64_t N, int64_t C, double eps) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = in + n * C;
    // Two passes: the variance around the mean stays accurate when |mean| >> std, where a
    // one-pass E[x^2] - E[x]^2 cancels catastrophically.
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += x[c];
    const double mu = sum / static_cast<double>(C);
    double squares = 0;
#pragma omp simd reduction(+ : squares)
    for (int64_t c = 0; c < C; ++c) squares += (x[c] - mu) * (x[c] - mu);
    const double rs = 1.0 / std::sqrt(squares / static_cast<double>(C) + eps);
    mean[n] = static_cast<T>(mu);
    rstd[n] = static_cast<T>(rs);

    const T m = mean[n], r = rstd[n];
    T* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (x[c] - m) * r * weight[c] + bias[c];
  }
}

template <typename T>
void layernorm_backward(T* din, T* dweight, T* dbias, const T* dout, const T* in,
                        const T* weight, const T* mean, const T* rstd, int64_t N, int64_t C) {
  if (din) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const T* x = in + n * C;
      const T* dy = dout + n * C;
      const T m = mean[n], r = rstd[n];
      // With g = dout * weight and xhat the normalized input:
      // din = rstd * (g - mean(g) - xhat * mean(g * xhat)).
      double g_sum = 0, g_xhat_sum = 0;
#pragma omp simd reduction(+ : g_sum, g_xhat_sum)
      for (int64_t c = 0; c < C; ++c) {
        const T g = dy[c] * weight[c];
        g_sum += g;
        g_xhat_sum += g * ((x[c] - m) * r);
      }
      const T g_mean = static_cast<T>(g_sum / static_cast<double>(C));
      const T g_xhat_mean = static_cast<T>(g_xhat_sum / static_cast<double>(C));
      T* dx = din + n * C;
      for (int64_t c = 0; c < C; ++c)
        dx[c] += r * (dy[c] * weight[c] - g_mean - (x[c] - m) * r * g_xhat_mean);
    }
  }
  if (!dweight && !dbias) return;
  parallel_column_blocks(C, [&](int64_t c0, int64_t c1) {
    double dw[kColumnBlock] = {}, db[kColumnBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T* x = in + n * C;
      const T* dy = dout + n * C;
      for (int64_t c = c0; c < c1; ++c) {
        dw[c - c0] += dy[c] * ((x[c] - mean[n]) * rstd[n]);
        db[c - c0] += dy[c];
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dweight) dweight[c] += static_cast<T>(dw[c - c0]);
      if (dbias) dbias[c] += static_cast<T>(db[c - c0]);
    }
  });
}

#define MASKLM_INSTANTIATE(T)                                                              \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t,    \
                                     int64_t, double);                                     \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,  \
                                      const T*, int64_t, int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
