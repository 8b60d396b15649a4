// Learning-rate schedules and the AdamW optimizer over the flat buffer, against the
// formulas computed independently here.
#include <gtest/gtest.h>

#include <cmath>

#include "model/mlm_model.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace masklm {
namespace {

TEST(LrSchedule, WarmupThenLinearDecay) {
  const LrSchedule s{1.0, 4, 14, LrDecay::LINEAR, 0.0};
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);   // decay starts after warmup
  EXPECT_DOUBLE_EQ(s.at(9), 0.5);   // halfway through the 10 decay steps
  EXPECT_DOUBLE_EQ(s.at(14), 0.0);
  EXPECT_DOUBLE_EQ(s.at(100), 0.0);  // clamped past the end
}

TEST(LrSchedule, CosineAndConstantAndFloor) {
  const LrSchedule cos{2.0, 0, 10, LrDecay::COSINE, 0.1};
  EXPECT_DOUBLE_EQ(cos.at(0), 2.0);
  EXPECT_NEAR(cos.at(5), 0.2 + 1.8 * 0.5, 1e-15);  // cos(pi/2) = 0
  EXPECT_NEAR(cos.at(10), 0.2, 1e-15);
  const LrSchedule flat{3.0, 2, 10, LrDecay::CONSTANT, 0.0};
  EXPECT_DOUBLE_EQ(flat.at(0), 1.5);
  EXPECT_DOUBLE_EQ(flat.at(7), 3.0);
  EXPECT_THROW(lr_decay_from_name("exponential"), Error);
}

ModelConfig tiny() {
  ModelConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.num_layers = 1;
  c.num_heads = 2;
  c.intermediate_size = 12;
  c.max_position_embeddings = 6;
  return c;
}

// Reference AdamW for one scalar over several steps.
double adamw_reference(double p, const std::vector<double>& grads, double lr, double b1, double b2, double eps,
                       double wd) {
  double m = 0, v = 0;
  for (size_t t = 1; t <= grads.size(); ++t) {
    const double g = grads[t - 1];
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, static_cast<double>(t)));
    const double vhat = v / (1 - std::pow(b2, static_cast<double>(t)));
    p -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * p);
  }
  return p;
}

TEST(AdamW, DecaysMatricesButNotLayerNormOrBias) {
  MlmModel model(tiny(), {4, 2}, DType::F64);
  model.init_weights(1);
  const AdamWConfig cfg{0.9, 0.98, 1e-6, 0.1, 0.0};
  AdamW opt(model.params(), model.grads(), cfg);
  Ctx ctx;
  const ModelParams& p = model.params().params;
  const ModelParams& g = model.grads().params;
  const double w0 = p.layers[0].ffn_in_weight.ptr<double>()[3];
  const double ln0 = p.layers[0].ln1_weight.ptr<double>()[2];
  const double b0 = p.layers[0].qkv_bias.ptr<double>()[5];
  const double untouched0 = p.layers[0].ffn_in_weight.ptr<double>()[4];
  const std::vector<double> gw = {0.3, -0.1, 0.2}, gln = {-0.5, 0.25, 0.0}, gb = {1.0, 1.0, -2.0};
  for (size_t step = 0; step < 3; ++step) {
    model.zero_grads(ctx);
    g.layers[0].ffn_in_weight.ptr<double>()[3] = gw[step];
    g.layers[0].ln1_weight.ptr<double>()[2] = gln[step];
    g.layers[0].qkv_bias.ptr<double>()[5] = gb[step];
    opt.step(ctx, 0.01);
  }
  EXPECT_NEAR(p.layers[0].ffn_in_weight.ptr<double>()[3], adamw_reference(w0, gw, 0.01, 0.9, 0.98, 1e-6, 0.1), 1e-14);
  EXPECT_NEAR(p.layers[0].ln1_weight.ptr<double>()[2], adamw_reference(ln0, gln, 0.01, 0.9, 0.98, 1e-6, 0.0), 1e-14);
  EXPECT_NEAR(p.layers[0].qkv_bias.ptr<double>()[5], adamw_reference(b0, gb, 0.01, 0.9, 0.98, 1e-6, 0.0), 1e-14);
  // A matrix entry whose gradient stays zero only decays: p * (1 - lr * wd)^3.
  EXPECT_NEAR(p.layers[0].ffn_in_weight.ptr<double>()[4], untouched0 * std::pow(1 - 0.01 * 0.1, 3), 1e-15);
  EXPECT_EQ(opt.steps_taken(), 3);
}

TEST(AdamW, ClipsTheGlobalNormAndReportsItUnclipped) {
  MlmModel model(tiny(), {4, 2}, DType::F64);
  model.init_weights(2);
  AdamWConfig cfg{0.9, 0.999, 1e-8, 0.0, 1.0};
  AdamW opt(model.params(), model.grads(), cfg);
  Ctx ctx;
  model.zero_grads(ctx);
  const ModelParams& g = model.grads().params;
  g.head_bias.ptr<double>()[0] = 3.0;
  g.word_embeddings.ptr<double>()[7] = 4.0;
  const double before = model.params().params.head_bias.ptr<double>()[0];
  EXPECT_DOUBLE_EQ(opt.step(ctx, 0.1), 5.0);
  // The first Adam step moves each parameter by lr * sign(g) (up to eps) whatever the
  // scale, so clipping shows in the moments: m = (1 - b1) * g * (1 / 5).
  EXPECT_NEAR(model.params().params.head_bias.ptr<double>()[0], before - 0.1, 1e-6);
  // The first moments fill the start of the state arena, one per parameter slot.
  const double* m = opt.state_arena().flat(DType::F64).ptr<double>();
  double m_sum = 0;
  for (size_t i = 0; i < model.param_arena().used() / sizeof(double); ++i) m_sum += m[i];
  EXPECT_NEAR(m_sum, 0.1 * (3.0 + 4.0) / 5.0, 1e-12);
}

TEST(AdamW, RejectsBadHyperparameters) {
  MlmModel model(tiny(), {4, 2}, DType::F64);
  EXPECT_THROW(AdamW(model.params(), model.grads(), AdamWConfig{1.0, 0.98, 1e-6, 0.0, 0.0}), Error);
  EXPECT_THROW(AdamW(model.params(), model.grads(), AdamWConfig{0.9, 0.98, 0.0, 0.0, 0.0}), Error);
}

}  // namespace
}  // namespace masklm
