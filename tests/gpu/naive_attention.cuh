// The naive attention in a 16-bit type, the yardstick of flash-attention's accuracy rule
// (the fused kernel's error against an fp64 reference must stay within twice this one's).
// It computes what PyTorch computes for bf16/fp16 tensors without upcasting (flash-attention's
// attention_ref): every matmul accumulates in fp32 and rounds its output to 16 bits, the
// softmax and its backward run in fp32 on 16-bit inputs and round their outputs, and
// autograd's backward rounds each intermediate gradient the same way. Dropout uses the
// Philox indexing of kernels/ops.h. Values live in float vectors; inputs must already be
// 16-bit values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cuda/precision.h"
#include "runtime/philox.h"

namespace masklm::gpu_testing {

template <typename T16> float round16(float x) { return static_cast<float>(T16(x)); }

struct NaiveAttention {
  std::vector<float> out;   // (N, C)
  std::vector<float> dqkv;  // (N, 3C), the gradient alone
};

template <typename T16>
NaiveAttention naive_attention(const std::vector<float>& qkv, const std::vector<float>& dout,
                               const std::vector<int32_t>& cu_seqlens, int64_t NH, float dropout_p,
                               const RngKey& key) {
  const auto r = round16<T16>;
  const int64_t N = cu_seqlens.back(),
                C = static_cast<int64_t>(dout.size()) / std::max<int64_t>(N, 1);
  const int64_t HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS)),
              keep_scale = 1.0f / (1.0f - dropout_p);
  NaiveAttention res{std::vector<float>(static_cast<size_t>(N * C)),
                     std::vector<float>(static_cast<size_t>(N * 3 * C))};
  auto at = [](auto& v, int64_t i) -> auto& { return v[static_cast<size_t>(i)]; };
  for (size_t b = 0; b + 1 < cu_seqlens.size(); ++b) {
    const int64_t s0 = cu_seqlens[b], L = cu_seqlens[b + 1] - s0;
    for (int64_t h = 0; h < NH; ++h) {
      // Row i of head h's q, k, v (section 0, 1, 2), dout and the gradients.
      auto x = [&](int section, int64_t i, int64_t d) {
        return at(qkv, (s0 + i) * 3 * C + section * C + h * HS + d);
      };
      auto dO = [&](int64_t i, int64_t d) { return at(dout, (s0 + i) * C + h * HS + d); };
      auto grad = [&](int section, int64_t i, int64_t d) -> float& {
        return at(res.dqkv, (s0 + i) * 3 * C + section * C + h * HS + d);
      };
      std::vector<float> P(static_cast<size_t>(L * L)), M(P.size()), Pd(P.size()), dS(P.size());
      for (int64_t i = 0; i < L; ++i) {
        std::vector<float> s(static_cast<size_t>(L));
        for (int64_t j = 0; j < L; ++j) {
          float dot = 0;
          for (int64_t d = 0; d < HS; ++d) dot += x(0, i, d) * x(1, j, d);
          at(s, j) = r(dot * scale);
        }
        const float max = *std::max_element(s.begin(), s.end());
        float sum = 0;
        for (float& e : s) sum += e = std::exp(e - max);
        for (int64_t j = 0; j < L; ++j) {
          const int64_t ij = i * L + j;
          const auto index = static_cast<uint64_t>((h * N + s0 + i) * N + s0 + j);
          at(P, ij) = r(at(s, j) / sum);
          at(M, ij) = philox_uniform(key, index) >= dropout_p ? keep_scale : 0.0f;
          at(Pd, ij) = r(at(P, ij) * at(M, ij));
        }
        for (int64_t d = 0; d < HS; ++d) {
          float o = 0;
          for (int64_t j = 0; j < L; ++j) o += at(Pd, i * L + j) * x(2, j, d);
          at(res.out, (s0 + i) * C + h * HS + d) = r(o);
        }
      }
      // Backward: dPd = dO V^T, dP = dPd * M, dS = P (dP - rowsum(P dP)), then the GEMMs.
      for (int64_t i = 0; i < L; ++i) {
        std::vector<float> dP(static_cast<size_t>(L));
        float rowsum = 0;
        for (int64_t j = 0; j < L; ++j) {
          float dot = 0;
          for (int64_t d = 0; d < HS; ++d) dot += dO(i, d) * x(2, j, d);
          at(dP, j) = r(r(dot) * at(M, i * L + j));
          rowsum += at(P, i * L + j) * at(dP, j);
        }
        for (int64_t j = 0; j < L; ++j)
          at(dS, i * L + j) = r(at(P, i * L + j) * (at(dP, j) - rowsum));
      }
      for (int64_t i = 0; i < L; ++i)
        for (int64_t d = 0; d < HS; ++d) {
          float dq = 0, dk = 0, dv = 0;  // dQ of row i; dK, dV of key row i
          for (int64_t j = 0; j < L; ++j) {
            dq += at(dS, i * L + j) * x(1, j, d);
            dk += at(dS, j * L + i) * x(0, j, d);
            dv += at(Pd, j * L + i) * dO(j, d);
          }
          grad(0, i, d) = r(dq * scale);
          grad(1, i, d) = r(dk * scale);
          grad(2, i, d) = r(dv);
        }
    }
  }
  return res;
}

}  // namespace masklm::gpu_testing
