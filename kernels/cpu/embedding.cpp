#include "kernels/cpu/embedding.h"

#include "kernels/cpu/rows.h"

namespace masklm::cpu {

template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const int32_t* positions,
                       const int32_t* types, const T* wte, const T* wpe, const T* wtt, int64_t N,
                       int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    T* o = out + n * C;
    const T* tok = wte + tokens[n] * C;
    const T* pos = wpe + positions[n] * C;
    for (int64_t c = 0; c < C; ++c) o[c] = tok[c] + pos[c];
    if (types) {
      const T* typ = wtt + types[n] * C;
      for (int64_t c = 0; c < C; ++c) o[c] += typ[c];
    }
  }
}

template <typename T>
void embedding_backward(T* dwte, T* dwpe, T* dwtt, const T* dout, const int32_t* tokens,
                        const int32_t* positions, const int32_t* types, int64_t N, int64_t C) {
  // Each table's gradient is the scatter-add of dout by that table's ids.
  if (dwte) scatter_add_rows(dwte, dout, tokens, N, C);
  if (dwpe) scatter_add_rows(dwpe, dout, positions, N, C);
  if (dwtt) scatter_add_rows(dwtt, dout, types, N, C);
}

#define MASKLM_INSTANTIATE(T)                                                                \
  template void embedding_forward<T>(T*, const int32_t*, const int32_t*, const int32_t*,      \
                                     const T*, const T*, const T*, int64_t, int64_t);         \
  template void embedding_backward<T>(T*, T*, T*, const T*, const int32_t*, const int32_t*,  \
                                      const int32_t*, int64_t, int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
