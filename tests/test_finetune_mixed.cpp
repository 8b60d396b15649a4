// Fine-tuning in bf16 mixed precision (`precision=bf16`) on the CPU, which stores and rounds
// 16-bit tensors as the GPU kernels do (kernels/ops.h): the fine-tuning models' compute copy
// (the task head's tensors included), one forward and backward of each model against the
// same model in F64, and the training loop, which must keep the copy the rounded masters.
// tests/gpu/test_finetune.cu runs the GPU against these CPU models.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
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

std::vector<double> values(const Tensor& host) {
  std::vector<double> out(static_cast<size_t>(host.numel()));
  for (int64_t i = 0; i < host.numel(); ++i)
    out[static_cast<size_t>(i)] = host.dtype == DType::F64
                                      ? host.ptr<double>()[i]
                                      : static_cast<double>(host.ptr<float>()[i]);
  return out;
}

// Every tensor of a host layout, in table order (the alignment gaps between them differ
// between dtypes).
std::vector<double> layout_values(const ParamLayout& layout) {
  std::vector<double> out;
  for (const ParamEntry& e : layout.table) {
    const std::vector<double> v = values(e.view);
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

TEST(FineTuneMixed, Fp16IsRefused) {
  testing::expect_error([] { FineTuneModel(mixed_config(true), 3, 32, 8, DType::F16); },
                        {"F32 or BF16", "not F16"});
  testing::expect_error([] { SpanExtractionModel(mixed_config(true), 32, 8, DType::F16); },
                        {"F32 or BF16", "not F16"});
}

// What one forward and backward with dropout leave, on the host, in double.
struct Pass {
  double loss = 0;
  std::vector<double> outputs;  // the classifier's logits, or the span logits
  std::vector<double> grads;
};

// A head: 3 labels, regression (1) or the span model (0).
Pass forward_backward(int head, DType dtype) {
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
    model.backward(ctx, dropout);
    p.grads = layout_values(model.grads());
    return p;
  }
  FineTuneModel model(c, head, 32, 8, dtype);
  model.init_weights(3);
  model.zero_grads(ctx);
  const ClassificationBatch batch = testing::random_classification_batch(c, head, 11);
  p.loss = model.forward(ctx, batch, dropout).loss;
  p.outputs = values(model.last_logits());
  model.backward(ctx, dropout);
  p.grads = layout_values(model.grads());
  return p;
}

class FineTuneMixedPass : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Heads, FineTuneMixedPass, ::testing::Values(3, 1, 0),
                         [](const auto& info) {
                           return info.param == 3   ? "ThreeLabels"
                                  : info.param == 1 ? "Regression"
                                                    : "Span";
                         });

// bf16 activations and weights (fp32 statistics, losses and gradient sums) against the same
// model in F64, initialized alike. Measured (2026-12-07): relative loss differences of
// 6.7e-4 (3 labels), 1.1e-2 (regression: a squared error of outputs near 3) and 1.7e-3
// (span), logit NMSE up to 2.3e-4, gradient NMSE up to 8.9e-4; the bounds leave 4-10x.
TEST_P(FineTuneMixedPass, Bf16TracksF64) {
  const Pass want = forward_backward(GetParam(), DType::F64);
  const Pass got = forward_backward(GetParam(), DType::BF16);
  EXPECT_NEAR(got.loss, want.loss, 5e-2 * want.loss);
  expect_close(got.outputs, want.outputs, 2e-3, "logits");
  expect_close(got.grads, want.grads, 5e-3, "gradients");
}

// finetune_train in bf16 against fp32: each epoch's loss within bf16 rounding (measured
// 2026-12-07: relative differences up to 1.5e-3, while the loss moves from 2.23 to 1.20
// between epochs), and after the updates the compute copy is the masters rounded (AdamW
// writes it; a copy left stale would hold the initial weights).
TEST(FineTuneMixed, TrainingTracksFp32AndKeepsTheComputeCopyTheRoundedMasters) {
  const ModelConfig c = mixed_config(true);
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
  }
  FineTuneOptions o;
  o.lr = 1e-3;
  o.batch_size = 8;
  o.epochs = 3;
  const auto train = [&](DType dtype) {
    FineTuneModel model(c, 2, o.batch_size * c.max_position_embeddings, o.batch_size, dtype);
    model.init_weights(4);
    const std::vector<double> initial = layout_values(model.params());
    Ctx ctx;
    std::vector<EpochLog> epochs = finetune_train(ctx, model, inputs, gold, o);
    EXPECT_NE(layout_values(model.params()), initial) << "nothing was trained";
    if (dtype == DType::BF16)
      expect_compute_copy_is_rounded_masters(model.params(), model.compute_copy());
    return epochs;
  };
  const std::vector<EpochLog> want = train(DType::F32), got = train(DType::BF16);
  ASSERT_EQ(got.size(), want.size());
  for (size_t e = 0; e < want.size(); ++e)
    EXPECT_NEAR(got[e].train_loss, want[e].train_loss, 1e-2 * want[e].train_loss) << "epoch " << e;
}

}  // namespace
}  // namespace masklm
