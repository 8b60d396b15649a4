// Shared pieces of the whole-model tests: a small config, random batches and weights, the
// finite-difference check of every parameter tensor, and mixed precision's compute copy.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "model/mlm_model.h"
#include "runtime/half.h"

namespace masklm::testing {

inline ModelConfig small_config(bool pre_ln) {
  ModelConfig c;
  c.vocab_size = 37;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.intermediate_size = 48;
  c.max_position_embeddings = 16;
  c.type_vocab_size = 2;
  c.pre_layernorm = pre_ln;
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  c.layer_norm_eps = 1e-5;
  return c;
}

// Sequences of the given lengths with random tokens and types; ~30% predicted (the first
// token of each sequence always).
inline Batch random_batch(const ModelConfig& c, const std::vector<int>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b;
  for (int len : lengths) {
    std::vector<int32_t> ids(static_cast<size_t>(len));
    for (auto& t : ids) t = static_cast<int32_t>(rng() % c.vocab_size);
    const int32_t offset = static_cast<int32_t>(b.num_tokens());
    b.add_sequence(ids);
    for (int i = 0; i < len; ++i)
      if (i == 0 || rng() % 10 < 3) b.add_prediction(offset + i, static_cast<int32_t>(rng() % c.vocab_size));
  }
  for (int64_t i = 0; i < b.num_tokens(); ++i) b.types.push_back(static_cast<int32_t>(rng() % 2));
  return b;
}

// Gives every parameter (LayerNorm ones and zeros too) random values so no gradient hides.
// Any model with params() (MlmModel, the fine-tuning models) in F64.
template <typename Model> void randomize(const Model& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, 0.3);
  for (const ParamEntry& e : m.params().table)
    for (int64_t i = 0; i < e.view.numel(); ++i) e.view.ptr<double>()[i] = dist(rng);
}

// Compares `coords` random coordinates of every parameter tensor's analytic gradient (in
// `grads`, already computed) with fourth-order central differences of `loss`, which must
// recompute the loss from the parameters (relative error < 1e-6).
inline void expect_gradients_match(const ParamLayout& params, const ParamLayout& grads,
                                   const std::function<double()>& loss, int coords) {
  std::mt19937 rng(5);
  for (size_t k = 0; k < params.table.size(); ++k) {
    const ParamEntry& p = params.table[k];
    const ParamEntry& g = grads.table[k];
    std::vector<double> analytic, numeric;
    for (int i = 0; i < coords; ++i) {
      const int64_t j = static_cast<int64_t>(rng() % p.view.numel());
      analytic.push_back(g.view.ptr<double>()[j]);
      numeric.push_back(numeric_gradient(loss, p.view.ptr<double>() + j, 1)[0]);
    }
    // Some gradients are zero in exact arithmetic (softmax ignores a key bias; the span loss
    // ignores a shift of all start or all end logits, so the bias in front of them): only
    // rounding noise is left, which relative error cannot judge. Both sides must be ~0.
    double largest = 0;
    for (double n : numeric) largest = std::max(largest, std::abs(n));
    if (largest < 1e-8) {
      for (double a : analytic) EXPECT_NEAR(a, 0.0, 1e-12) << p.name;
      continue;
    }
    EXPECT_LT(relative_error(analytic.data(), numeric.data(), static_cast<int64_t>(analytic.size())), 1e-6) << p.name;
  }
}

// Runs forward + backward, then expect_gradients_match on every parameter tensor.
inline void expect_model_gradients_match(MlmModel& model, const Batch& batch, const DropoutPlan& dropout,
                                         int coords = 24) {
  Ctx ctx;
  model.zero_grads(ctx);
  model.forward(ctx, batch, dropout);
  model.backward(ctx, dropout);
  expect_gradients_match(model.params(), model.grads(), [&] { return model.forward(ctx, batch, dropout).loss; },
                         coords);
}

// A host tensor's F32 or F64 values, as doubles.
inline std::vector<double> host_doubles(const Tensor& host) {
  std::vector<double> out(static_cast<size_t>(host.numel()));
  for (int64_t i = 0; i < host.numel(); ++i)
    out[static_cast<size_t>(i)] = host.dtype == DType::F64
                                      ? host.ptr<double>()[i]
                                      : static_cast<double>(host.ptr<float>()[i]);
  return out;
}

// Every element of a 16-bit compute copy (host memory) is its fp32 master weight rounded.
inline void expect_compute_copy_is_rounded_masters(const ParamLayout& masters,
                                                   const ParamLayout* copy) {
  ASSERT_NE(copy, nullptr);
  ASSERT_EQ(copy->table.size(), masters.table.size());
  const DType dtype = copy->table.front().view.dtype;
  int64_t mismatches = 0;
  for (size_t i = 0; i < masters.table.size(); ++i) {
    const float* master = masters.table[i].view.ptr<float>();
    const auto* rounded = static_cast<const uint16_t*>(copy->table[i].view.data);
    for (int64_t k = 0; k < masters.table[i].view.numel(); ++k)
      mismatches += rounded[k] != float_to_16bit(dtype, master[k]);
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace masklm::testing
