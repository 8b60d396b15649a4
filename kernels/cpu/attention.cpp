#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/philox_uniforms.h"
#include "kernels/cpu/vector_math.h"

namespace masklm::cpu {
namespace {

// Queries per tile: a (64, T) score tile fits in L2 up to T = 1024 and is tall enough for
// OpenBLAS to run near its peak.
constexpr int64_t kQueryBlock = 64;

// One head of one sequence inside the packed qkv rows (leading dimension 3C).
template <typename T> struct HeadQKV {
  const T* q;  // (len, HS) with stride 3C
  const T* k;
  const T* v;
  int64_t ld;
};

template <typename T>
HeadQKV<T> head_qkv(const T* qkv, int64_t first_token, int64_t h, int64_t C, int64_t HS) {
  const T* q = qkv + first_token * 3 * C + h * HS;
  return {q, q + C, q + 2 * C, 3 * C};
}

// scores (bq, len) = q[i0 : i0 + bq] @ k^T / sqrt(HS).
template <typename T> void scaled_scores(T* scores, const HeadQKV<T>& x, int64_t i0, int64_t bq,
                                         int64_t len, int64_t HS) {
  const T scale = T(1) / std::sqrt(T(HS));
  gemm<T>(false, true, bq, len, HS, scale, x.q + i0 * x.ld, x.ld, x.k, x.ld, T(0), scores, len);
}

// scales[k] = keep_scale where dropout keeps draw k, else 0. A function of its own, with
// values for arguments: inside the lambda below, GCC kept the loop a branch.
template <typename T>
void dropout_scales(T* scales, const float* uniforms, int64_t n, float p, T keep_scale) {
  for (int64_t k = 0; k < n; ++k) scales[k] = dropout_keeps(uniforms[k], p) ? keep_scale : T(0);
}

// Calls fn(j0, scales, count) for runs of keys [j0, j0 + count) covering [0, len), where
// scales[k] is the dropout scale of (query, key j0 + k): 0 when dropped, 1/(1-p) when kept.
// `first` is the Philox index of key 0.
template <typename T, typename Fn>
void for_each_dropout_run(int64_t len, uint64_t first, float p, const RngKey& key, Fn&& fn) {
  const T keep_scale = T(1) / (T(1) - T(p));
  for_each_uniform_chunk(key, first, len, [&](int64_t j0, const float* uniforms, int64_t count) {
    T scales[kUniformChunk];
    dropout_scales(scales, uniforms, count, p, keep_scale);
    fn(j0, static_cast<const T*>(scales), count);
  });
}

// Philox index of (head h, query token i, key token 0 of the sequence starting at s0).
inline uint64_t dropout_index(int64_t h, int64_t i, int64_t s0, int64_t N) {
  return static_cast<uint64_t>((h * N + i) * N + s0);
}

// Turns scores into probabilities in place and returns their log-sum-exp; subtracting the
// max keeps exp() finite for any score.
template <typename T> T softmax_row(T* row, int64_t len) {
  const T max = *std::max_element(row, row + len);
  exp_shifted(row, len, max);
  T sum = 0;
  for (int64_t j = 0; j < len; ++j) sum += row[j];
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < len; ++j) row[j] *= inv;
  return max + std::log(sum);
}

// Runs fn(first_token, len, h) for every (sequence, head) pair in parallel. Dynamic
// scheduling because sequence lengths, and so task costs, differ.
template <typename Fn>
void for_each_sequence_head(const int32_t* cu_seqlens, int64_t B, int64_t NH, Fn&& fn) {
  ensure_blas_single_threaded();
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < B * NH; ++task) {
    const int64_t b = task / NH, h = task % NH;
    const int64_t len = cu_seqlens[b + 1] - cu_seqlens[b];
    if (len > 0) fn(int64_t{cu_seqlens[b]}, len, h);
  }
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* lse, const T* qkv, const int32_t* cu_seqlens, int64_t B,
                       int64_t N, int64_t C, int64_t NH, float dropout_p, const RngKey& key) {
  const int64_t HS = C / NH;
  for_each_sequence_head(cu_seqlens, B, NH, [&](int64_t s0, int64_t len, int64_t h) {
    const HeadQKV<T> x = head_qkv(qkv, s0, h, C, HS);
    T* probs = thread_scratch<T>(static_cast<size_t>(kQueryBlock * len));  // (bq, len)
    for (int64_t i0 = 0; i0 < len; i0 += kQueryBlock) {
      const int64_t bq = std::min(kQueryBlock, len - i0);
      scaled_scores(probs, x, i0, bq, len, HS);
      for (int64_t r = 0; r < bq; ++r) {
        T* row = probs + r * len;
        const int64_t i = s0 + i0 + r;
        lse[h * N + i] = softmax_row(row, len);  // before dropout: the backward needs P itself
        if (dropout_p > 0)
          for_each_dropout_run<T>(len, dropout_index(h, i, s0, N), dropout_p, key,
                                  [row](int64_t j0, const T* scales, int64_t count) {
                                    T* dropped = row + j0;
                                    for (int64_t k = 0; k < count; ++k) dropped[k] *= scales[k];
                                  });
      }
      // out[i0 : i0 + bq] (bq, HS) = dropped probabilities @ v
      gemm<T>(false, false, bq, HS, len, T(1), probs, len, x.v, x.ld, T(0),
              out + (s0 + i0) * C + h * HS, C);
    }
  });
}

// Flash-attention backward per query tile, with M the dropout scales and O = (P∘M) V:
//   dP = dO V^T,  D_i = dO_i · O_i = Σ_j P_ij M_ij dP_ij,  dS = P ∘ (M∘dP − D),
//   dV += (P∘M)^T dO,  dQ += dS K / sqrt(HS),  dK += dS^T Q / sqrt(HS).
template <typename T> void attention_backward(T* dqkv, const T* dout, const T* out, const T* qkv,
                                              const T* lse, const int32_t* cu_seqlens, int64_t B,
                                              int64_t N, int64_t C, int64_t NH, float dropout_p,
                                              const RngKey& key) {
  const int64_t HS = C / NH;
  const T scale = T(1) / std::sqrt(T(HS));
  for_each_sequence_head(cu_seqlens, B, NH, [&](int64_t s0, int64_t len, int64_t h) {
    const HeadQKV<T> x = head_qkv(qkv, s0, h, C, HS);
    T* dq = dqkv + s0 * 3 * C + h * HS;  // (len, HS) each, stride 3C
    T* dk = dq + C;
    T* dv = dq + 2 * C;
    const T* dout_h = dout + s0 * C + h * HS;  // (len, HS), stride C
    const T* out_h = out + s0 * C + h * HS;
    const int64_t tile = kQueryBlock * len;
    T* probs = thread_scratch<T>(static_cast<size_t>(3 * tile));  // P, then dS over dP, then P∘M
    T* dprobs = probs + tile;
    T* dropped = dropout_p > 0 ? dprobs + tile : probs;
    for (int64_t i0 = 0; i0 < len; i0 += kQueryBlock) {
      const int64_t bq = std::min(kQueryBlock, len - i0);
      scaled_scores(probs, x, i0, bq, len, HS);
      gemm<T>(false, true, bq, len, HS, T(1), dout_h + i0 * C, C, x.v, x.ld, T(0), dprobs, len);
      for (int64_t r = 0; r < bq; ++r) {
        T* p_row = probs + r * len;
        T* dp_row = dprobs + r * len;
        const int64_t i = s0 + i0 + r;
        const T row_lse = lse[h * N + i];
        exp_shifted(p_row, len, row_lse);
        T D = 0;
        for (int64_t c = 0; c < HS; ++c) D += dout_h[(i0 + r) * C + c] * out_h[(i0 + r) * C + c];
        if (dropout_p > 0) {
          T* m_row = dropped + r * len;
          for_each_dropout_run<T>(len, dropout_index(h, i, s0, N), dropout_p, key,
                                  [&](int64_t j0, const T* m, int64_t count) {
                                    T* kept = m_row + j0;
                                    const T* probs = p_row + j0;
                                    T* dp = dp_row + j0;
                                    for (int64_t k = 0; k < count; ++k) {
                                      kept[k] = probs[k] * m[k];
                                      dp[k] *= m[k];
                                    }
                                  });
        }
        for (int64_t j = 0; j < len; ++j) dp_row[j] = p_row[j] * (dp_row[j] - D);
      }
      gemm<T>(true, false, len, HS, bq, T(1), dropped, len, dout_h + i0 * C, C, T(1), dv, x.ld);
      gemm<T>(false, false, bq, HS, len, scale, dprobs, len, x.k, x.ld, T(1), dq + i0 * x.ld, x.ld);
      gemm<T>(true, false, len, HS, bq, scale, dprobs, len, x.q + i0 * x.ld, x.ld, T(1), dk, x.ld);
    }
  });
}

#define MASKLM_INSTANTIATE(T)                                                                     \
  template void attention_forward<T>(T*, T*, const T*, const int32_t*, int64_t, int64_t, int64_t, \
                                     int64_t, float, const RngKey&);                              \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const T*, const int32_t*, \
                                      int64_t, int64_t, int64_t, int64_t, float, const RngKey&);
MASKLM_INSTANTIATE(float)
MASKLM_INSTANTIATE(double)
#undef MASKLM_INSTANTIATE

}  // namespace masklm::cpu
