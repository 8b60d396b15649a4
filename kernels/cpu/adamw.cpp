#include "kernels/cpu/adamw.h"

#include <cmath>

namespace masklm::cpu {

template <typename T>
void adamw_update(T* params, const T* grads, T* m, T* v, int64_t n, double lr, double beta1,
                  double beta2, double eps, double weight_decay, int64_t step, double grad_scale) {
  // Step-wide constants in double; the per-value math runs in T like the GPU kernel's fp32.
  const double t = static_cast<double>(step);
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T m_correction = static_cast<T>(1.0 / (1.0 - std::pow(beta1, t)));
  const T v_correction = static_cast<T>(1.0 / (1.0 - std::pow(beta2, t)));
  const T lr_t = static_cast<T>(lr), decay = static_cast<T>(lr * weight_decay);
  const T eps_t = static_cast<T>(eps), scale = static_cast<T>(grad_scale);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T g = grads[i] * scale;
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    const T update = (m[i] * m_correction) / (std::sqrt(v[i] * v_correction) + eps_t);
    // Decoupled decay uses the parameter before this step's update.
    params[i] -= lr_t * update + decay * params[i];
  }
}

template void adamw_update<float>(float*, const float*, float*, float*, int64_t, double, double,
                                  double, double, double, int64_t, double);
template void adamw_update<double>(double*, const double*, double*, double*, int64_t, double,
                                   double, double, double, double, int64_t, double);

}  // namespace masklm::cpu
