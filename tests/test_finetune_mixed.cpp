// Fine-tuning in 16-bit mixed precision (`precision=bf16` or `fp16`) on the CPU, which stores
// and rounds 16-bit tensors as the GPU kernels do (kernels/ops.h): the fine-tuning models'
// compute copy (the task head's tensors included), one forward and backward of each model
// against the same model in F64, the training loop, which must keep the copy the rounded
// masters, and fp16's loss scaling, which must skip the steps whose gradients overflow.
// tests/gpu/test_finetune.cu runs the GPU against these CPU models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "expect_error.h"
#include "finetune_test_support.h"
#include "model_test_support.h"
#include "precision_tolerance.h"
#include "train/finetune.h"

namespace masklm {
namespace {

using testing::expect_close;
using testing::expect_compute_copy_is_rounded_masters;

// Weights of the order BERT's are after training (std 0.3, not the 0.02 of a fresh
// model), so that the logits and gradients are not all near zero.
ModelConfig mixed_config(bool pre_ln) {
  ModelConfig c = testing::small_config(pre_ln);
  c.initializer_range = 0.3;
  return c;
}

// Every tensor of a host layout, in table order (the alignment gaps between them differ
// between dtypes).
std::vector<double> layout_values(const ParamLayout& layout) {
  std::vector<double> out;
  for (const ParamEntry& e : layout.table) {
    const std::vector<double> v = testing::host_doubles(e.view);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(FineTuneMixed, ComputeCopyMirrorsTheEncoderAndTheHead) {
  const ModelConfig c = mixed_config(true);
  const FineTuneModel model(c, 3, 32, 8, DType::BF16);
  EXPECT_EQ(model.dtype(), DType::F32);  // masters and gradients
  EXPECT_EQ(model.compute_dtype(), DType::BF16);
  const ParamLayout& masters = model.params();
  const ParamLayout& copy = *model.compute_copy();
  ASSERT_EQ(copy.table.size(), masters.table.size());
  for (size_t i = 0; i < copy.table.size(); ++i) {
    EXPECT_EQ(copy.table[i].name, masters.table[i].name);
    EXPECT_EQ(copy.table[i].view.shape, masters.table[i].view.shape);
    EXPECT_EQ(copy.table[i].view.dtype, DType::BF16);
    EXPECT_EQ(element_offset(copy, copy.table[i]), element_offset(masters, masters.table[i]))
        << masters.table[i].name;
  }
  EXPECT_EQ(copy.table.back().name, "classifier.out_proj.bias");
  EXPECT_EQ(FineTuneModel(c, 3, 32, 8).compute_copy(), nullptr);
}

// After a forward has converted the copy, new master weights (initialization, a checkpoint's
// encoder) must reach the copy before the next forward.
TEST(FineTuneMixed, NewWeightsReachTheComputeCopy) {
  const ModelConfig c = mixed_config(true);
  const auto dir = std::filesystem::temp_directory_path() / "masklm_test_finetune_mixed_load";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path checkpoint = testing::write_pretrained_run(
      dir, c, std::filesystem::path(MASKLM_FIXTURE_DIR) / "tokenizer_wordpiece.json");
  FineTuneModel model(c, 3, 32, 8, DType::BF16);
  const ClassificationBatch batch = testing::random_classification_batch(c, 3, 11);
  Ctx ctx;
  model.init_weights(5);  // the checkpoint's model was initialized from seed 3
  model.forward(ctx, batch, DropoutPlan{});
  model.load_encoder(checkpoint);
  model.forward(ctx, batch, DropoutPlan{});
  expect_compute_copy_is_rounded_masters(model.params(), model.compute_copy());
  model.init_weights(4);
  model.forward(ctx, batch, DropoutPlan{});
  expect_compute_copy_is_rounded_masters(model.params(), model.compute_copy());
}

TEST(FineTuneMixed, OnlyTheCpuComputesInF64) {
  testing::expect_error(
      [] { FineTuneModel(mixed_config(true), 3, 32, 8, DType::F64, Device::CUDA); },
      {"F32, BF16 or F16", "not F64 on the GPU"});
}

std::vector<double> unscaled(std::vector<double> grads, double loss_scale) {
  for (double& g : grads) g /= loss_scale;
  return grads;
}

// What one forward and backward with dropout leave, on the host, in double.
struct Pass {
  double loss = 0;
  std::vector<double> outputs;  // the classifier's logits, or the span logits
  std::vector<double> grads;
};

// The loss scale of the 16-bit passes: fp16's activation gradients (some 1e-6 here) would
// lose bits below its smallest normal value, 6e-5, unscaled; the gradients come back divided.
constexpr double kLossScale = 1024;

// A head: 3 labels, regression (1) or the span model (0).
Pass forward_backward(int head, DType dtype) {
  const double loss_scale = dtype == DType::F64 ? 1.0 : kLossScale;
  const ModelConfig c = mixed_config(head != 1);
  const DropoutPlan dropout{RngKey{7, 1, 0}, true};
  Ctx ctx;
  Pass p;
  if (head == 0) {
    SpanExtractionModel model(c, 32, 8, dtype);
    model.init_weights(3);
    model.zero_grads(ctx);
    const SpanBatch batch = testing::random_span_batch(c, 12);
    p.loss = model.forward(ctx, batch, dropout);
    for (const SpanLogits& l : model.span_logits()) {
      p.outputs.insert(p.outputs.end(), l.start.begin(), l.start.end());
      p.outputs.insert(p.outputs.end(), l.end.begin(), l.end.end());
    }
    model.backward(ctx, dropout, loss_scale);
    p.grads = unscaled(layout_values(model.grads()), loss_scale);
    return p;
  }
  FineTuneModel model(c, head, 32, 8, dtype);
  model.init_weights(3);
  model.zero_grads(ctx);
  const ClassificationBatch batch = testing::random_classification_batch(c, head, 11);
  p.loss = model.forward(ctx, batch, dropout).loss;
  p.outputs = testing::host_doubles(model.last_logits());
  model.backward(ctx, dropout, loss_scale);
  p.grads = unscaled(layout_values(model.grads()), loss_scale);
  return p;
}

// A head and a 16-bit compute dtype, and the bounds of the pass against F64.
struct PassCase {
  int head;
  DType dtype;
  double loss, logits, grads;  // relative loss difference, NMSE of the logits and gradients
};

class FineTuneMixedPass : public ::testing::TestWithParam<PassCase> {};

// 16-bit activations and weights (fp32 statistics and gradient sums) against the same model
// in F64, initialized alike. Measured (2026-12-07): in bf16, relative loss differences of
// 6.7e-4 (3 labels), 1.1e-2 (regression: a squared error of outputs near 3) and 1.7e-3
// (span), logit NMSE up to 2.3e-4, gradient NMSE up to 8.9e-4; in fp16 (3 more significand
// bits), relative loss differences up to 5.8e-4, logit NMSE up to 5.9e-6, gradient NMSE up to
// 1.7e-5; the bounds leave 4-10x.
INSTANTIATE_TEST_SUITE_P(Heads, FineTuneMixedPass,
                         ::testing::Values(PassCase{3, DType::BF16, 5e-2, 2e-3, 5e-3},
                                           PassCase{1, DType::BF16, 5e-2, 2e-3, 5e-3},
                                           PassCase{0, DType::BF16, 5e-2, 2e-3, 5e-3},
                                           PassCase{3, DType::F16, 5e-3, 3e-5, 1e-4},
                                           PassCase{1, DType::F16, 5e-3, 3e-5, 1e-4},
                                           PassCase{0, DType::F16, 5e-3, 3e-5, 1e-4}),
                         [](const auto& info) {
                           const int head = info.param.head;
                           return std::string(head == 3   ? "ThreeLabels"
                                              : head == 1 ? "Regression"
                                                          : "Span") +
                                  "_" + std::string(dtype_name(info.param.dtype));
                         });

TEST_P(FineTuneMixedPass, TracksF64) {
  const PassCase& c = GetParam();
  const Pass want = forward_backward(c.head, DType::F64);
  const Pass got = forward_backward(c.head, c.dtype);
  EXPECT_NEAR(got.loss, want.loss, c.loss * want.loss);
  expect_close(got.outputs, want.outputs, c.logits, "logits");
  expect_close(got.grads, want.grads, c.grads, "gradients");
}

// 24 examples of 2 to 13 random tokens, each with a random label of two and a score of 1e4.
std::pair<std::vector<EncodedExample>, std::vector<GlueExample>> random_examples(
    const ModelConfig& c) {
  std::mt19937 rng(5);
  std::vector<EncodedExample> inputs;
  std::vector<GlueExample> gold;
  for (int i = 0; i < 24; ++i) {
    EncodedExample e;
    for (int k = 0, n = 2 + static_cast<int>(rng() % 12); k < n; ++k)
      e.ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
    e.types.assign(e.ids.size(), 0);
    inputs.push_back(e);
    gold.emplace_back();
    gold.back().label = static_cast<int32_t>(rng() % 2);
    gold.back().score = 1e4;
  }
  return {inputs, gold};
}

FineTuneOptions options(double lr, int64_t epochs) {
  FineTuneOptions o;
  o.lr = lr;
  o.batch_size = 8;
  o.epochs = epochs;
  return o;
}

// finetune_train in bf16 and fp16 against fp32: each epoch's loss and mean gradient norm
// within 16-bit rounding (measured 2026-12-07: losses up to 7.1e-4 relative in bf16 and
// 6.2e-4 in fp16, whose loss scale 2^16 overflows nothing here, while the loss moves from 2.2
// to 1.2 between epochs; norms up to 9.5e-3 and 5.0e-4, fp16's unscaled from 2^16), and after
// the updates the compute copy is the masters rounded (AdamW writes it; a copy left stale
// would hold the initial weights).
TEST(FineTuneMixed, TrainingTracksFp32AndKeepsTheComputeCopyTheRoundedMasters) {
  const ModelConfig c = mixed_config(true);
  const auto [inputs, gold] = random_examples(c);
  const FineTuneOptions o = options(1e-3, 3);
  const auto train = [&](DType dtype) {
    FineTuneModel model(c, 2, o.batch_size * c.max_position_embeddings, o.batch_size, dtype);
    model.init_weights(4);
    const std::vector<double> initial = layout_values(model.params());
    Ctx ctx;
    std::vector<EpochLog> epochs = finetune_train(ctx, model, inputs, gold, o);
    EXPECT_NE(layout_values(model.params()), initial) << "nothing was trained";
    if (dtype != DType::F32)
      expect_compute_copy_is_rounded_masters(model.params(), model.compute_copy());
    return epochs;
  };
  const std::vector<EpochLog> want = train(DType::F32);
  for (const DType dtype : {DType::BF16, DType::F16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::vector<EpochLog> got = train(dtype);
    ASSERT_EQ(got.size(), want.size());
    for (size_t e = 0; e < want.size(); ++e) {
      EXPECT_EQ(got[e].skipped_steps, 0) << "epoch " << e;
      EXPECT_NEAR(got[e].train_loss, want[e].train_loss, 1e-2 * want[e].train_loss)
          << "epoch " << e;
      EXPECT_NEAR(got[e].grad_norm, want[e].grad_norm, 5e-2 * want[e].grad_norm) << "epoch " << e;
    }
  }
}

// fp16's loss scaling: regression targets of 1e4 make the MSE's gradient at the logits
// 2 (pred - 1e4) / 8 = -2.5e3 per example, which times the first scales, 2^16 to 2^14, is far
// past fp16's largest value, 65504 (and the activation gradients below it are larger still).
// So the first epoch's three steps overflow and are skipped while the scale halves each time
// (the parameters untouched: an update with those gradients would make them NaN), and the
// model trains once the scale is small enough. (Measured: 14 of the 36 steps skipped, in the
// first five epochs, the scale settling at 4.)
TEST(FineTuneMixed, Fp16SkipsTheStepsWhoseGradientsOverflowAndBacksOff) {
  const ModelConfig c = mixed_config(true);
  const auto [inputs, gold] = random_examples(c);
  const FineTuneOptions o = options(1e-2, 12);  // 36 steps
  FineTuneModel model(c, 1, o.batch_size * c.max_position_embeddings, o.batch_size, DType::F16);
  model.init_weights(4);
  const std::vector<double> initial = layout_values(model.params());
  Ctx ctx;
  ::testing::internal::CaptureStderr();
  const std::vector<EpochLog> epochs = finetune_train(ctx, model, inputs, gold, o);
  const std::string warned = ::testing::internal::GetCapturedStderr();
  int64_t skipped = 0;
  for (const EpochLog& e : epochs) skipped += e.skipped_steps;
  EXPECT_EQ(epochs.front().skipped_steps, 3) << "the scale backs off from the first step";
  EXPECT_TRUE(std::isnan(epochs.front().train_loss)) << "an epoch without updates has no mean";
  EXPECT_NE(warned.find("fine-tuning epoch 1: 3 of 3 batches overflowed fp16 at their loss "
                        "scale and updated nothing (the scale is now 8192)"),
            std::string::npos)
      << warned;
  EXPECT_LT(skipped, 36);
  EXPECT_EQ(epochs.back().skipped_steps, 0) << "the scale did not settle";
  const auto first_trained = std::find_if(
      epochs.begin(), epochs.end(), [](const EpochLog& e) { return std::isfinite(e.train_loss); });
  ASSERT_NE(first_trained, epochs.end());
  EXPECT_LT(epochs.back().train_loss, first_trained->train_loss);
  const std::vector<double> trained = layout_values(model.params());
  EXPECT_NE(trained, initial);
  EXPECT_TRUE(
      std::all_of(trained.begin(), trained.end(), [](double v) { return std::isfinite(v); }));
}

// Outside fp16's overflows, non-finite gradients stop fine-tuning: regression targets of
// 1e38 make fp32's gradients overflow to infinity.
TEST(FineTuneMixed, NonFiniteGradientsInFp32AreAnError) {
  const ModelConfig c = mixed_config(true);
  auto [inputs, gold] = random_examples(c);
  for (GlueExample& g : gold) g.score = 1e38;
  FineTuneModel model(c, 1, 8 * c.max_position_embeddings, 8);
  model.init_weights(4);
  Ctx ctx;
  testing::expect_error([&] { finetune_train(ctx, model, inputs, gold, options(1e-3, 1)); },
                        {"fine-tuning step 1 (epoch 1)", "not finite", "diverged"});
}

}  // namespace
}  // namespace masklm
