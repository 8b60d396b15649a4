// Mixed-precision training on the GPU (train.precision bf16 / fp16) against the same run on
// the CPU, which stores and rounds 16-bit tensors as the GPU kernels do (kernels/ops.h);
// the two differ only by summation order and by the fused attention rounding its
// probabilities to 16 bits. Plus determinism, fp16 overflow and a bitwise resume on the GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gpu/op_harness.cuh"
#include "runtime/device.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::fresh_dir;
using testing::param_snapshot;
using testing::run_steps;

// The small recipe with head size 32, which the fused attention takes (16 is too small).
testing::SmallRun small_run(std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), {"model.hidden_size=64", "model.intermediate_size=128"});
  return testing::small_run(overrides);
}

std::unique_ptr<Trainer> gpu_trainer(const testing::SmallRun& run, TrainerHooks hooks = {},
                                     const std::filesystem::path& dir = "") {
  return std::make_unique<Trainer>(run.config, *run.data.train, nullptr, dir, std::move(hooks),
                                   nullptr, nullptr, Device::CUDA);
}

// A step's loss on the two devices agrees to this relative error: 16-bit rounding of
// differently summed values (bf16 keeps 8 significand bits, fp16 11), grown over the steps.
double step_tolerance(const std::string& precision) { return precision == "bf16" ? 2e-2 : 4e-3; }

TEST(TrainerMixedGpu, StepsMatchTheCpuInTheSamePrecision) {
  MASKLM_SKIP_WITHOUT_GPU();
  for (const std::string precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    const auto run = small_run({"train.steps=10", "train.precision=" + precision});
    Trainer cpu(run.config, *run.data.train, nullptr, "");
    const auto gpu = gpu_trainer(run);
    for (int i = 0; i < 10; ++i) {
      const StepResult want = cpu.train_step(), got = gpu->train_step();
      ASSERT_FALSE(got.skipped) << "step " << i;
      EXPECT_NEAR(got.loss, want.loss, step_tolerance(precision) * want.loss) << "step " << i;
      EXPECT_NEAR(got.grad_norm, want.grad_norm, 4 * step_tolerance(precision) * want.grad_norm)
          << "step " << i;
    }
  }
}

// train.attention: the fused kernel and the reference kernel (fp32 on widened copies) train
// the same model within 16-bit rounding of each other.
TEST(TrainerMixedGpu, FusedAndReferenceAttentionTrainAlike) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto fused = small_run({"train.precision=bf16", "train.attention=fused"});
  const auto reference = small_run({"train.precision=bf16", "train.attention=reference"});
  const auto a = gpu_trainer(fused), b = gpu_trainer(reference);
  for (int i = 0; i < 6; ++i) {
    const StepResult got = a->train_step(), want = b->train_step();
    EXPECT_NEAR(got.loss, want.loss, step_tolerance("bf16") * want.loss) << "step " << i;
  }
}

// train.attention cudnn trains like the fused kernel where the two draw the same masks (no
// attention dropout), and reproducibly with cuDNN's own dropout.
TEST(TrainerMixedGpu, CudnnAttentionTrainsLikeTheFusedKernel) {
  MASKLM_SKIP_WITHOUT_GPU();
  MASKLM_SKIP_WITHOUT_CUDNN();
  const auto cudnn = small_run(
      {"train.precision=bf16", "train.attention=cudnn", "model.attention_dropout=0"});
  const auto fused = small_run(
      {"train.precision=bf16", "train.attention=fused", "model.attention_dropout=0"});
  const auto a = gpu_trainer(cudnn), b = gpu_trainer(fused);
  for (int i = 0; i < 6; ++i) {
    const StepResult got = a->train_step(), want = b->train_step();
    EXPECT_NEAR(got.loss, want.loss, step_tolerance("bf16") * want.loss) << "step " << i;
  }
  const auto with_dropout = small_run({"train.precision=bf16", "train.attention=cudnn"});
  ASSERT_GT(with_dropout.config.model.attention_dropout, 0.0);
  const auto c = gpu_trainer(with_dropout), d = gpu_trainer(with_dropout);
  EXPECT_EQ(run_steps(*c, 3), run_steps(*d, 3));
}

// Head size 16 has no fused instance: train.attention auto runs the reference kernel, and
// the run still matches the CPU.
TEST(TrainerMixedGpu, AutoFallsBackToTheReferenceKernelForOtherHeadSizes) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = testing::small_run({"train.precision=bf16"});
  ASSERT_EQ(run.config.model.hidden_size / run.config.model.num_heads, 16);
  Trainer cpu(run.config, *run.data.train, nullptr, "");
  const auto gpu = gpu_trainer(run);
  for (int i = 0; i < 4; ++i) {
    const StepResult want = cpu.train_step(), got = gpu->train_step();
    EXPECT_NEAR(got.loss, want.loss, step_tolerance("bf16") * want.loss) << "step " << i;
  }
}

TEST(TrainerMixedGpu, TwoRunsAreBitwiseIdentical) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run({"train.precision=bf16"});
  const auto a = gpu_trainer(run), b = gpu_trainer(run);
  EXPECT_EQ(run_steps(*a, 4), run_steps(*b, 4));
  EXPECT_EQ(param_snapshot(a->model()), param_snapshot(b->model()));
}

TEST(TrainerMixedGpu, Fp16OverflowSkipsTheStepWithoutCountingABadStep) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run({"train.precision=fp16", "train.max_bad_steps=1"});
  TrainerHooks hooks;
  hooks.after_backward = [](int64_t step, int64_t micro, MlmModel& model) {
    if (step != 1 || micro != 0) return;
    float inf = std::numeric_limits<float>::infinity();
    copy_tensor(model.grads().params.head_bias.rows(0, 1), host_tensor(&inf, {1}));
  };
  const auto trainer = gpu_trainer(run, std::move(hooks));
  const auto loss_scale = [&] { return trainer->state().loss_scaler.at("scale").get<double>(); };
  trainer->train_step();
  const auto before = param_snapshot(trainer->model());
  const double scale = loss_scale();
  EXPECT_TRUE(trainer->train_step().skipped);
  EXPECT_EQ(param_snapshot(trainer->model()), before);
  EXPECT_EQ(trainer->state().bad_steps_in_row, 0);
  EXPECT_EQ(loss_scale(), scale * LossScalerConfig{}.backoff_factor);  // backed off
  EXPECT_FALSE(trainer->train_step().skipped);
  EXPECT_NE(param_snapshot(trainer->model()), before);
}

// No injected value: resumed at the largest loss scale, the backward's own fp16 values
// overflow on the GPU as in the CPU's emulation of the kernels, for as many steps in a row
// (the scale halving each time) before a step fits.
TEST(TrainerMixedGpu, Fp16OverflowInTheBackwardItselfBacksOffAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run({"train.precision=fp16", "train.steps=40"});
  const auto skipped_steps = [&](Device device, const std::string& name) {
    const auto dir = fresh_dir(name);
    testing::checkpoint_with_loss_scale(run, dir, LossScalerConfig{}.max_scale, device);
    Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, nullptr, device);
    EXPECT_TRUE(trainer.resume());
    int64_t skipped = 0;
    while (trainer.train_step().skipped) ++skipped;
    return skipped;
  };
  const int64_t on_cpu = skipped_steps(Device::CPU, "fp16_overflow_cpu");
  EXPECT_GT(on_cpu, 0);
  EXPECT_EQ(skipped_steps(Device::CUDA, "fp16_overflow_gpu"), on_cpu);
}

TEST(TrainerMixedGpu, ResumeIsBitwiseExact) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run({"train.precision=bf16"});
  const auto dir = fresh_dir("gpu_mixed_resume");
  const auto straight = gpu_trainer(run);
  const std::vector<double> expected = run_steps(*straight, 6);
  std::vector<double> losses;
  {
    const auto first = gpu_trainer(run, {}, dir);
    losses = run_steps(*first, 3);
    first->save_checkpoint();
  }
  const auto second = gpu_trainer(run, {}, dir);
  ASSERT_TRUE(second->resume());
  for (double l : run_steps(*second, 3)) losses.push_back(l);
  EXPECT_EQ(losses, expected);
  EXPECT_EQ(param_snapshot(second->model()), param_snapshot(straight->model()));
}

}  // namespace
}  // namespace masklm
