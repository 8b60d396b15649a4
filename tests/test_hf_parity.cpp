// Parity with Hugging Face transformers: the same weights and batch give the same loss,
// logits and gradients as BertForMaskedLM (post-LN) and RobertaPreLayerNormForMaskedLM
// (pre-LN), computed in float64 by PyTorch (fixtures from make_hf_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gradcheck.h"
#include "model_fixture.h"

namespace masklm {
namespace {

using testing::fixture_batch;
using testing::fixture_config;
using testing::load_fixture_params;
using testing::read_doubles;

double nmse(const double* a, const std::vector<double>& b) {
  return testing::nmse(a, b.data(), static_cast<int64_t>(b.size()));
}

template <typename T> std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(t.ptr<T>()[i]);
  return v;
}

class HfParity : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(HfParity, LossLogitsAndGradientsMatch) {
  const auto& [name, dtype] = GetParam();
  const SafetensorsFile f(std::string(MASKLM_FIXTURE_DIR) + "/hf_" + name + ".safetensors");
  const ModelConfig cfg = fixture_config(f);
  EXPECT_EQ(cfg.pre_layernorm, name == "roberta_prelayernorm");
  const Batch batch = fixture_batch(f);
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, dtype);
  model.set_vocab_chunk(17);  // several chunks, the last one partial (V = 101)
  load_fixture_params(f, model);

  // Every HF parameter is in masklm's table and vice versa.
  std::set<std::string> ours, theirs;
  for (const ParamEntry& e : model.params().table) ours.insert(e.name);
  for (const std::string& n : f.names())
    if (n.rfind("param.", 0) == 0) theirs.insert(n.substr(6));
  EXPECT_EQ(ours, theirs);

  Ctx ctx;
  const MlmStats stats = model.forward(ctx, batch, {});
  const double hf_loss = read_doubles(f, "output.loss")[0];
  const bool f64 = dtype == DType::F64;
  EXPECT_NEAR(stats.loss, hf_loss, (f64 ? 1e-12 : 1e-5) * std::abs(hf_loss));

  const std::vector<double> hf_logits = read_doubles(f, "output.logits");
  std::vector<double> logits(hf_logits.size());
  std::vector<float> logits_f(hf_logits.size());
  const int64_t P = batch.num_predictions(), V = cfg.vocab_size;
  Tensor out;
  out.shape = {P, V};
  out.dtype = dtype;
  out.data = f64 ? static_cast<void*>(logits.data()) : static_cast<void*>(logits_f.data());
  model.logits(ctx, out);
  if (!f64) logits.assign(logits_f.begin(), logits_f.end());
  EXPECT_LT(nmse(logits.data(), hf_logits), f64 ? 1e-24 : 1e-11);

  model.zero_grads(ctx);
  model.backward(ctx, {});
  // f32 attention gradients carry ~1e-5 relative rounding (softmax of random scores), so
  // f32 gets NMSE 1e-9; f64 must agree to rounding.
  const double tolerance = f64 ? 1e-20 : 1e-9;
  for (const ParamEntry& g : model.grads().table) {
    const std::vector<double> hf = read_doubles(f, "grad." + g.name);
    const std::vector<double> mine = f64 ? as_doubles<double>(g.view) : as_doubles<float>(g.view);
    if (g.name.find("key.bias") != std::string::npos) {
      // Softmax is invariant to a key bias (it shifts all of a query's scores equally), so
      // its true gradient is 0 and both sides hold rounding noise only.
      for (size_t i = 0; i < mine.size(); ++i) {
        EXPECT_NEAR(mine[i], 0.0, f64 ? 1e-12 : 1e-5) << g.name;
        EXPECT_NEAR(hf[i], 0.0, 1e-12) << g.name;
      }
      continue;
    }
    EXPECT_LT(nmse(mine.data(), hf), tolerance) << g.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, HfParity,
                         ::testing::Combine(::testing::Values("bert", "roberta_prelayernorm"),
                                            ::testing::Values(DType::F64, DType::F32)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) == DType::F64 ? "_f64" : "_f32");
                         });

}  // namespace
}  // namespace masklm
