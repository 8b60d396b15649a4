#include "kernels/cpu/mlm_xent.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/vector_math.h"

namespace masklm::cpu {
namespace {

// Rows per tile: 256 rows of h (768 wide) are reused from cache across a whole chunk, and
// the forward streams the embedding once per row block, so taller blocks mean less traffic.
constexpr int64_t kMaxRowBlock = 256;
// Vocabulary rows of demb per backward task: enough columns per thread for an efficient GEMM.
constexpr int64_t kMaxVocabBlock = 256;

// tile (rows, cv), leading dimension ld = h[r0 : r0 + rows] @ emb[v0 : v0 + cv]^T + bias.
template <typename T> void logits_tile(T* tile, int64_t ld, const T* h, const T* emb, const T* bias,
                                       int64_t r0, int64_t rows, int64_t v0, int64_t cv,
                                       int64_t C) {
  gemm<T>(false, true, rows, cv, C, T(1), h + r0 * C, C, emb + v0 * C, C, T(0), tile, ld);
  if (!bias) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cv; ++c) tile[r * ld + c] += bias[v0 + c];
}

// Running log-sum-exp, argmax and label logit of one row across vocabulary chunks.
template <typename T> struct OnlineRow {
  T max = -std::numeric_limits<T>::infinity();
  T sum = 0;  // of exp(logit - max) over the chunks seen
  int64_t argmax = -1;
  T label_logit = 0;

  // Consumes the chunk: its logits become their exp.
  void add_chunk(T* logits, int64_t v0, int64_t cv, int64_t label) {
    // The chunk's first largest logit; a NaN never compares larger (as on the GPU), so it
    // reaches the loss through the sum alone and the argmax stays that of the rest.
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_at = -1;
    for (int64_t c = 0; c < cv; ++c)
      if (logits[c] > best) best = logits[c], best_at = c;
    // Strict > keeps the first maximum across chunks too, as argmax conventionally does.
    if (best > max) argmax = v0 + best_at;
    if (v0 <= label && label < v0 + cv) label_logit = logits[label - v0];
    const T new_max = std::max(max, best);
    exp_shifted(logits, cv, new_max);
    T chunk_sum = 0;
    for (int64_t c = 0; c < cv; ++c) chunk_sum += logits[c];
    sum = sum * std::exp(max - new_max) + chunk_sum;  // rescale the old sum to the new max
    max = new_max;
  }
  T lse() const { return max + std::log(sum); }
};

}  // namespace

// Rows are independent in the forward: each thread owns row blocks and walks all chunks.
template <typename T> void mlm_xent_forward(T* losses, T* lse, int32_t* correct, const T* h,
                                            const T* emb, const T* bias, const int32_t* labels,
                                            int64_t P, int64_t C, int64_t V, int64_t chunk_size) {
  const int64_t chunk = std::min(chunk_size, V);
  const Blocks rows = split_blocks(P, kMaxRowBlock);
  ensure_blas_single_threaded();
#pragma omp parallel for schedule(static)
  for (int64_t rb = 0; rb < rows.count; ++rb) {
    const int64_t r0 = rows.begin(rb), nrows = rows.end(rb, P) - r0;
    T* tile = thread_scratch<T>(static_cast<size_t>(nrows * chunk));  // (nrows, chunk)
    OnlineRow<T>* state = thread_scratch<OnlineRow<T>>(static_cast<size_t>(nrows));
    std::fill_n(state, nrows, OnlineRow<T>{});
    for (int64_t v0 = 0; v0 < V; v0 += chunk) {
      const int64_t cv = std::min(chunk, V - v0);
      logits_tile(tile, cv, h, emb, bias, r0, nrows, v0, cv, C);
      for (int64_t r = 0; r < nrows; ++r) state[r].add_chunk(tile + r * cv, v0, cv, labels[r0 + r]);
    }
    for (int64_t r = 0; r < nrows; ++r) {
      const int64_t p = r0 + r;
      lse[p] = state[r].lse();
      losses[p] = lse[p] - state[r].label_logit;
      if (correct) correct[p] = state[r].argmax == labels[p] ? 1 : 0;
    }
  }
}

// Chunk by chunk: every thread first turns its rows of the chunk's logits into
// dlogit = loss_scale * (softmax - onehot) and adds dlogit @ emb_chunk to its rows of dh;
// after a barrier, each thread owns a slice of the chunk's vocabulary and adds dlogit^T @ h
// over all P rows to it. Every output element has one writer and one summation order, and
// demb is read-modified-written once per call instead of once per row block.
template <typename T> void mlm_xent_backward(T* dh, T* demb, T* dbias, const T* h, const T* emb,
                                             const T* bias, const int32_t* labels, const T* lse,
                                             int64_t P, int64_t C, int64_t V, T loss_scale,
                                             int64_t chunk_size) {
  if (P == 0) return;
  const int64_t chunk = std::min(chunk_size, V);
  const Blocks rows = split_blocks(P, kMaxRowBlock);
  T* dlogits = thread_scratch<T>(static_cast<size_t>(P * chunk));  // (P, cv), shared by the team
  ensure_blas_single_threaded();
#pragma omp parallel
  for (int64_t v0 = 0; v0 < V; v0 += chunk) {
    const int64_t cv = std::min(chunk, V - v0);
#pragma omp for schedule(static)
    for (int64_t rb = 0; rb < rows.count; ++rb) {
      const int64_t r0 = rows.begin(rb), nrows = rows.end(rb, P) - r0;
      T* tile = dlogits + r0 * cv;
      logits_tile(tile, cv, h, emb, bias, r0, nrows, v0, cv, C);
      for (int64_t r = 0; r < nrows; ++r) {
        T* row = tile + r * cv;
        const T row_lse = lse[r0 + r];
        exp_shifted(row, cv, row_lse, loss_scale);
        const int64_t label = labels[r0 + r];
        if (v0 <= label && label < v0 + cv) row[label - v0] -= loss_scale;
      }
      if (dh)
        gemm<T>(false, false, nrows, C, cv, T(1), tile, cv, emb + v0 * C, C, T(1), dh + r0 * C, C);
    }
    // The implicit barrier above completes dlogits; the one below protects it from the
    // next chunk's overwrite.
    const Blocks vocab = split_blocks(cv, kMaxVocabBlock);
#pragma omp for schedule(static)
    for (int64_t vb = 0; vb < vocab.count; ++vb) {
      const int64_t c0 = vocab.begin(vb), c1 = vocab.end(vb, cv);
      if (demb)
        gemm<T>(true, false, c1 - c0, C, P, T(1), dlogits + c0, cv, h, C, T(1),
                demb + (v0 + c0) * C, C);
      if (!dbias) continue;
      for (int64_t r = 0; r < P; ++r)
        for (int64_t c = c0; c < c1; ++c) dbias[v0 + c] += dlogits[r * cv + c];
    }
  }
}

#define MASKLM_INSTANTIATE(T)                                                                  \
  template void mlm_xent_forward<T>(T*, T*, int32_t*, const T*, const T*, const T*,            \
                                    const int32_t*, int64_t, int64_t, int64_t, int64_t);       \
  template void mlm_xent_backward<T>(T*, T*, T*, const T*, const T*, const T*, const int32_t*, \
                                     const T*, int64_t, int64_t, int64_t, T, int64_t);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
