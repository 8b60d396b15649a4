// Mixed-precision training (train.precision bf16 / fp16) on the CPU, which stores 16-bit
// tensors and rounds them as the GPU kernels do (kernels/ops.h): the model's 16-bit compute
// copy of its fp32 master weights, training against fp32, fp16's dynamic loss scaling, and
// checkpoints. tests/gpu/test_trainer.cu runs the GPU against these CPU runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "expect_error.h"
#include "model_test_support.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::expect_compute_copy_is_rounded_masters;
using testing::fresh_dir;
using testing::param_snapshot;
using testing::run_steps;
using testing::small_run;

TEST(MixedPrecision, ComputeCopyMirrorsTheMastersElementOffsets) {
  const auto run = small_run();
  MlmModel model(run.config.model, Capacity{64, 64}, DType::BF16);
  EXPECT_EQ(model.dtype(), DType::F32);  // masters and gradients
  EXPECT_EQ(model.compute_dtype(), DType::BF16);
  const ParamLayout& copy = *model.compute_copy();
  ASSERT_EQ(copy.table.size(), model.params().table.size());
  for (size_t i = 0; i < copy.table.size(); ++i) {
    const ParamEntry& m = model.params().table[i];
    const ParamEntry& c = copy.table[i];
    EXPECT_EQ(c.name, m.name);
    EXPECT_EQ(c.view.shape, m.view.shape);
    EXPECT_EQ(c.view.dtype, DType::BF16);
    EXPECT_EQ(element_offset(copy, c), element_offset(model.params(), m)) << m.name;
  }
  // The struct's views are the table's: the query block of the packed QKV, the head bias.
  const auto query = std::find_if(copy.table.begin(), copy.table.end(), [](const ParamEntry& e) {
    return e.name.ends_with("layer.0.attention.self.query.weight");
  });
  ASSERT_NE(query, copy.table.end());
  EXPECT_EQ(copy.params.layers[0].qkv_weight.data, query->view.data);
  EXPECT_EQ(copy.params.head_bias.data, copy.table.back().view.data);
  EXPECT_EQ(MlmModel(run.config.model, Capacity{64, 64}).compute_copy(), nullptr);
}

TEST(MixedPrecision, ComputeCopyIsTheRoundedMastersAfterInitAndEveryUpdate) {
  for (const char* precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    auto run = small_run({std::string("train.precision=") + precision});
    Trainer trainer(run.config, *run.data.train, nullptr, "");
    trainer.train_step();  // the first forward converts the initial weights
    trainer.train_step();  // AdamW rewrote the copy
    expect_compute_copy_is_rounded_masters(trainer.model().params(),
                                           trainer.model().compute_copy());
  }
}

// Each step's loss in bf16/fp16 stays within 16-bit rounding of the fp32 run's, and the
// gradient norm comes out unscaled (fp16 multiplies the loss by 2^16 before the backward).
// Measured (2026-11-25): relative loss differences up to 3.2e-4 (bf16) and 6e-5 (fp16),
// gradient norms up to 6.2e-3 and 5.8e-4; the bounds leave 3-8x headroom.
void expect_training_tracks_fp32(const std::vector<std::string>& model) {
  std::vector<std::string> recipe = model;
  recipe.push_back("train.steps=12");
  auto fp32 = small_run(recipe);
  Trainer reference(fp32.config, *fp32.data.train, nullptr, "");
  std::vector<StepResult> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(reference.train_step());
  struct Bounds {
    const char* precision;
    double loss, grad_norm;  // relative
  };
  constexpr double kBf16LossBound = 2e-3;
  for (const auto& [precision, loss_bound, norm_bound] :
       {Bounds{"bf16", kBf16LossBound, 2e-2}, Bounds{"fp16", 5e-4, 4e-3}}) {
    SCOPED_TRACE(precision);
    std::vector<std::string> mixed = recipe;
    mixed.push_back(std::string("train.precision=") + precision);
    auto run = small_run(mixed);
    Trainer trainer(run.config, *run.data.train, nullptr, "");
    for (const StepResult& want : expected) {
      const StepResult got = trainer.train_step();
      ASSERT_FALSE(got.skipped);
      EXPECT_NEAR(got.loss, want.loss, loss_bound * want.loss) << "step " << want.step;
      EXPECT_NEAR(got.grad_norm, want.grad_norm, norm_bound * want.grad_norm)
          << "step " << want.step;
    }
  }
  // Not vacuous: the losses move from step to step far more than the bound lets them differ.
  double spread = 0;
  for (const StepResult& r : expected)
    spread = std::max(spread, std::abs(r.loss - expected.front().loss));
  EXPECT_GT(spread, 10 * kBf16LossBound * expected.front().loss);
}

TEST(MixedPrecision, TrainingTracksFp32) { expect_training_tracks_fp32({}); }

// The skip-corrupted model (encoder on the kept tokens, a decoder layer over all of them).
TEST(MixedPrecision, SkipCorruptedTrainingTracksFp32) {
  expect_training_tracks_fp32(
      {"model.encoder.skip_corrupted=true", "model.decoder.layers=1", "model.mask_token_id=23"});
}

TrainerHooks poison_with_inf_at(int64_t poisoned_step) {
  TrainerHooks hooks;
  hooks.after_backward = [poisoned_step](int64_t step, int64_t micro, MlmModel& model) {
    if (step == poisoned_step && micro == 0)
      model.grads().params.head_bias.ptr<float>()[0] = std::numeric_limits<float>::infinity();
  };
  return hooks;
}

TEST(MixedPrecision, Fp16OverflowSkipsTheStepAndBacksOffTheScaleWithoutCountingABadStep) {
  auto run = small_run({"train.precision=fp16", "train.max_bad_steps=1"});
  Trainer trainer(run.config, *run.data.train, nullptr, "", poison_with_inf_at(1));
  trainer.train_step();
  const auto before = param_snapshot(trainer.model());
  const StepResult overflowed = trainer.train_step();  // max_bad_steps 1 would throw on a bad one
  EXPECT_TRUE(overflowed.skipped);
  EXPECT_EQ(param_snapshot(trainer.model()), before);
  EXPECT_EQ(trainer.optimizer().steps_taken(), 1);
  EXPECT_EQ(trainer.state().skipped_steps, 1);
  EXPECT_EQ(trainer.state().bad_steps_in_row, 0);
  const StepResult next = trainer.train_step();
  EXPECT_FALSE(next.skipped);
  EXPECT_NE(param_snapshot(trainer.model()), before);
}

// No injected value: at the largest loss scale the backward's own fp16 values overflow (the
// head's logit gradients, about 2^24 / 13 predictions, against fp16's 65504), the step is
// skipped and the scale halves, step after step, until the gradients fit.
TEST(MixedPrecision, Fp16OverflowInTheBackwardItselfBacksOffUntilTheGradientsFit) {
  const auto dir = fresh_dir("fp16_backward_overflow");
  auto run = small_run({"train.precision=fp16", "train.steps=40"});
  testing::checkpoint_with_loss_scale(run, dir, LossScalerConfig{}.max_scale);
  Trainer trainer(run.config, *run.data.train, nullptr, dir);
  ASSERT_TRUE(trainer.resume());
  const auto before = param_snapshot(trainer.model());
  std::vector<double> scales;
  while (trainer.train_step().skipped) scales.push_back(trainer.state().loss_scaler.at("scale"));
  ASSERT_FALSE(scales.empty()) << "no overflow at the largest scale";
  for (size_t i = 0; i < scales.size(); ++i)
    EXPECT_EQ(scales[i], LossScalerConfig{}.max_scale / std::pow(2.0, i + 1));
  EXPECT_NE(param_snapshot(trainer.model()), before);
}

// metrics.jsonl records the scale after each logged step in fp16 runs, and only there.
TEST(MixedPrecision, Fp16MetricsRecordTheLossScale) {
  for (const char* precision : {"fp16", "bf16"}) {
    SCOPED_TRACE(precision);
    const auto dir = fresh_dir(std::string("mixed_metrics_") + precision);
    auto run = small_run({"train.steps=3", std::string("train.precision=") + precision});
    Trainer trainer(run.config, *run.data.train, nullptr, dir, poison_with_inf_at(1));
    trainer.run();
    std::vector<nlohmann::json> scales;
    std::ifstream metrics(dir / "metrics.jsonl");
    for (std::string line; std::getline(metrics, line);) {
      const auto record = nlohmann::json::parse(line);
      if (record["kind"] == "train") scales.push_back(record.value("loss_scale", nlohmann::json()));
    }
    ASSERT_EQ(scales.size(), 3u);
    if (std::string(precision) == "fp16")
      EXPECT_EQ(scales, (std::vector<nlohmann::json>{65536.0, 32768.0, 32768.0}));
    else
      for (const auto& s : scales) EXPECT_TRUE(s.is_null());
  }
}

// At the lowest scale (1) an overflow is the gradients' own: the steps count as bad ones, so
// train.max_bad_steps still stops a diverged fp16 run.
TEST(MixedPrecision, Fp16OverflowsAtTheLowestScaleAreBadSteps) {
  auto run = small_run({"train.steps=40", "train.precision=fp16", "train.max_bad_steps=3"});
  TrainerHooks hooks;
  hooks.after_backward = [](int64_t, int64_t micro, MlmModel& model) {
    if (micro == 0)
      model.grads().params.head_bias.ptr<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  };
  Trainer trainer(run.config, *run.data.train, nullptr, "", hooks);
  // 2^16 halves to 1 in 16 skipped steps; then three bad steps in a row stop the run.
  testing::expect_error([&] { run_steps(trainer, 40); }, "3 non-finite training steps in a row");
  EXPECT_EQ(trainer.step(), 19);
  EXPECT_EQ(trainer.state().skipped_steps, 19);
  EXPECT_EQ(trainer.state().loss_scaler.at("scale").get<double>(), 1.0);
}

TEST(MixedPrecision, Bf16HasNoLossScalerSoAnInfIsABadStep) {
  auto run = small_run({"train.precision=bf16", "train.max_bad_steps=1"});
  Trainer trainer(run.config, *run.data.train, nullptr, "", poison_with_inf_at(0));
  testing::expect_error([&] { trainer.train_step(); }, "non-finite training steps in a row");
}

// An overflow at step 1 halves the scale; the checkpoint after step 3 keeps it, and a new
// trainer resumed from it continues bit for bit as the uninterrupted run.
TEST(MixedPrecision, ResumeRestoresTheLossScaleAndIsBitwiseExact) {
  for (const char* precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    const auto dir = fresh_dir(std::string("mixed_resume_") + precision);
    auto run = small_run({"train.steps=6", "train.checkpoint_every=3",
                          std::string("train.precision=") + precision});
    Trainer whole(run.config, *run.data.train, nullptr, dir, poison_with_inf_at(1));
    whole.run();
    const auto expected = param_snapshot(whole.model());

    Trainer resumed(run.config, *run.data.train, nullptr, "");
    resumed.resume_from(checkpoint_path(whole.checkpoints_dir(), 3));
    if (std::string(precision) == "fp16")
      EXPECT_EQ(resumed.state().loss_scaler.at("scale").get<double>(), 32768.0);
    else
      EXPECT_TRUE(resumed.state().loss_scaler.is_null());
    run_steps(resumed, 3);
    EXPECT_EQ(param_snapshot(resumed.model()), expected);
    expect_compute_copy_is_rounded_masters(resumed.model().params(),
                                           resumed.model().compute_copy());
  }
}

TEST(MixedPrecision, PrecisionNamesAreCheckedAndWrittenBack) {
  const auto bf16 = small_run({"train.precision=bf16"});
  EXPECT_EQ(bf16.config.train.precision, DType::BF16);
  EXPECT_EQ(run_config_to_json(bf16.config)["train"]["precision"], "bf16");
  EXPECT_EQ(small_run().config.train.precision, DType::F32);
  testing::expect_error([] { small_run({"train.precision=fp8"}); },
                        "train.precision': unknown precision 'fp8' (known: fp32, bf16, fp16)");
}

TEST(MixedPrecision, AttentionKernelNamesAndWhereFusedAndCudnnRun) {
  const auto reference = small_run({"train.precision=bf16", "train.attention=reference"});
  EXPECT_EQ(reference.config.train.attention, AttentionKernel::REFERENCE);
  EXPECT_EQ(run_config_to_json(reference.config)["train"]["attention"], "reference");
  EXPECT_EQ(small_run().config.train.attention, AttentionKernel::AUTO);
  testing::expect_error([] { small_run({"train.attention=flash"}); },
                        "train.attention': unknown attention kernel 'flash' (known: auto, fused, "
                        "cudnn, reference)");
  const auto cudnn = small_run({"train.precision=fp16", "train.attention=cudnn"});
  EXPECT_EQ(run_config_to_json(cudnn.config)["train"]["attention"], "cudnn");
  for (const char* kernel : {"fused", "cudnn"}) {
    const std::string choice = std::string("train.attention=") + kernel;
    testing::expect_error([&] { small_run({choice}); },
                          std::string("the ") + kernel + " kernel computes in 16 bits");
    auto run = small_run({"train.precision=bf16", choice});
    testing::expect_error([&] { Trainer(run.config, *run.data.train, nullptr, ""); },
                          std::string("train.attention ") + kernel + " runs on a GPU");
  }
  // On the CPU auto and reference are the same kernel: the same bits.
  auto auto_run = small_run({"train.precision=bf16"});
  Trainer by_auto(auto_run.config, *auto_run.data.train, nullptr, "");
  Trainer by_reference(reference.config, *reference.data.train, nullptr, "");
  EXPECT_EQ(run_steps(by_auto, 2), run_steps(by_reference, 2));
}

}  // namespace
}  // namespace masklm
