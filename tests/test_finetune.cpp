// The sequence classification / regression model: finite-difference gradients of every
// parameter in double, and a tiny task it must learn.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "expect_error.h"
#include "finetune_test_support.h"
#include "model/sequence_classifier.h"
#include "model_test_support.h"
#include "train/optimizer.h"

namespace masklm {
namespace {

using testing::random_classification_batch;
using testing::small_config;

constexpr int32_t kCls = 2;

void expect_finetune_gradients_match(int num_labels, bool pre_ln) {
  const ModelConfig c = small_config(pre_ln);
  FineTuneModel model(c, num_labels, 32, 8, DType::F64);
  testing::randomize(model, 3);
  const ClassificationBatch batch = random_classification_batch(c, num_labels, 11);
  const DropoutPlan dropout{RngKey{7, 1, 0}, true};
  Ctx ctx;
  model.zero_grads(ctx);
  model.forward(ctx, batch, dropout);
  model.backward(ctx, dropout);
  testing::expect_gradients_match(model.params(), model.grads(), [&] { return model.forward(ctx, batch, dropout).loss; },
                                  8);
}

TEST(FineTuneModel, ClassificationGradientsMatchFiniteDifferences) { expect_finetune_gradients_match(3, false); }
TEST(FineTuneModel, RegressionGradientsMatchFiniteDifferences) { expect_finetune_gradients_match(1, true); }

TEST(FineTuneModel, MseIsTheMeanSquaredError) {
  std::vector<double> pred{1.0, -2.0}, d(2, 0.0);
  const Tensor p = host_tensor(pred.data(), Shape{2, 1}), dp = host_tensor(d.data(), Shape{2, 1});
  EXPECT_DOUBLE_EQ(mse_forward(p, {0.0, 1.0}), (1.0 + 9.0) / 2);
  mse_backward(dp, p, {0.0, 1.0}, 0.5);
  EXPECT_DOUBLE_EQ(d[0], 1.0);
  EXPECT_DOUBLE_EQ(d[1], -3.0);
}

TEST(FineTuneModel, ClassificationLossIsTheMeanCrossEntropy) {
  // Row 0: softmax (1/4, 3/4), label 0: ln 4. Row 1: (1/2, 1/2), label 1: ln 2.
  std::vector<double> logits{0.0, std::log(3.0), 2.0, 2.0}, d(4, 0.0);
  const Tensor l = host_tensor(logits.data(), Shape{2, 2}), dl = host_tensor(d.data(), Shape{2, 2});
  EXPECT_NEAR(classification_xent_forward(l, {0, 1}), 1.5 * std::log(2.0), 1e-15);
  // scale * (softmax - one-hot), scale 1/2.
  classification_xent_backward(dl, l, {0, 1}, 0.5);
  const std::vector<double> expected{-0.375, 0.375, 0.25, -0.25};
  for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], expected[i], 1e-15) << i;
  // Large logits stay finite (the log-sum-exp subtracts the largest).
  std::vector<double> large{1000.0, 0.0};
  EXPECT_NEAR(classification_xent_forward(host_tensor(large.data(), Shape{1, 2}), {1}), 1000.0,
              1e-12);
  testing::expect_error(
      [&] {
        classification_xent_forward(l, {0, 2});
      },
      "label 2 outside the 2 labels");
}

// Label: does token 7 occur in the sequence? Sequences start with kCls.
ClassificationBatch token_seven_batch(int size, std::mt19937& rng) {
  ClassificationBatch b;
  for (int s = 0; s < size; ++s) {
    const bool has_seven = rng() % 2 == 0;
    std::vector<int32_t> ids{kCls};
    const int len = 3 + static_cast<int>(rng() % 8);
    for (int i = 0; i < len; ++i) ids.push_back(static_cast<int32_t>(8 + rng() % 29));
    if (has_seven) ids[1 + rng() % len] = 7;
    b.add(ids, {}, has_seven ? 1 : 0, 0.0);
  }
  return b;
}

TEST(FineTuneModel, LearnsWhetherATokenOccurs) {
  ModelConfig c = small_config(false);
  c.type_vocab_size = 0;
  FineTuneModel model(c, 2, 16 * 12, 16);
  model.init_weights(1);
  AdamW optimizer(model.params(), model.grads(), AdamWConfig{});
  Ctx ctx;
  std::mt19937 rng(9);
  for (uint32_t step = 0; step < 300; ++step) {
    const ClassificationBatch batch = token_seven_batch(16, rng);
    const DropoutPlan dropout{RngKey{1, step, 0}, true};
    model.zero_grads(ctx);
    model.forward(ctx, batch, dropout);
    model.backward(ctx, dropout);
    optimizer.step(ctx, 2e-3);
  }
  int64_t correct = 0, total = 0;
  for (int round = 0; round < 8; ++round) {
    const ClassificationBatch batch = token_seven_batch(16, rng);
    const FineTuneStats stats = model.forward(ctx, batch, DropoutPlan{});
    correct += stats.correct;
    total += stats.examples;
    // predicted_labels() agrees with the loss's argmax count.
    const std::vector<int32_t> predicted = model.predicted_labels();
    int64_t agree = 0;
    for (size_t b = 0; b < predicted.size(); ++b) agree += predicted[b] == batch.seqs.labels[b];
    EXPECT_EQ(agree, stats.correct);
  }
  EXPECT_GT(static_cast<double>(correct) / static_cast<double>(total), 0.9);
}

}  // namespace
}  // namespace masklm
