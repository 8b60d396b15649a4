// AdamW on a flat region of parameters (decoupled weight decay, bias correction).
#pragma once

#include <cstdint>

namespace masklm::cpu {

// With g = grads * grad_scale and t = step (1-based):
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2,
//   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + lr * weight_decay * p.
// params, grads, m, v (n).
template <typename T>
void adamw_update(T* params, const T* grads, T* m, T* v, int64_t n, double lr, double beta1,
                  double beta2, double eps, double weight_decay, int64_t step, double grad_scale);

}  // namespace masklm::cpu
