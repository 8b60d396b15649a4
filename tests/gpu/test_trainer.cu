// The trainer on the GPU (`masklm pretrain --device cuda`): N steps of the synthetic task
// against the same steps on the CPU (fp32, so the losses agree to summation-order noise),
// validation on both, a GPU checkpoint that resumes bitwise and holds exactly the bytes a
// CPU checkpoint of the same state holds, and none written after a kernel found bad input.
// Plus HostMirror, which checkpoints use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "expect_error.h"
#include "gpu/op_harness.cuh"
#include "runtime/cuda_check.h"
#include "runtime/host_mirror.h"
#include "train/checkpoint.h"
#include "trainer_fixture.h"

namespace masklm {
namespace {

using testing::arena_snapshot;
using testing::fresh_dir;
using testing::param_snapshot;
using testing::small_run;

// A step's loss and gradient norm agree to this relative error between the devices: fp32
// summation-order differences (~1e-7 per op) grown over a few AdamW steps, with headroom.
constexpr double kStepRelativeError = 1e-4;

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<StepResult> train_steps(Trainer& trainer, int64_t n) {
  std::vector<StepResult> steps;
  for (int64_t i = 0; i < n; ++i) steps.push_back(trainer.train_step());
  return steps;
}

TEST(TrainerGpu, StepsMatchTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  // Two micro-batches per step (their prediction counts differ), dropout, clipping.
  const auto run = small_run({"train.steps=12"});
  Trainer cpu(run.config, *run.data.train, run.data.validation.get(), "");
  Trainer gpu(run.config, *run.data.train, run.data.validation.get(), "", {}, nullptr, nullptr,
              Device::CUDA);
  ASSERT_EQ(gpu.model().device(), Device::CUDA);
  const std::vector<float> init = param_snapshot(gpu.model());
  EXPECT_EQ(init, param_snapshot(cpu.model()));  // initialized on the host, copied

  const std::vector<StepResult> expected = train_steps(cpu, 12), got = train_steps(gpu, 12);
  double err = 0, ref = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    ASSERT_FALSE(got[i].skipped);
    EXPECT_TRUE(std::isfinite(got[i].loss));
    EXPECT_EQ(got[i].counts.tokens, expected[i].counts.tokens);
    EXPECT_EQ(got[i].counts.predictions, expected[i].counts.predictions);
    EXPECT_NEAR(got[i].loss, expected[i].loss, kStepRelativeError * expected[i].loss);
    EXPECT_NEAR(got[i].grad_norm, expected[i].grad_norm,
                kStepRelativeError * expected[i].grad_norm);
    EXPECT_EQ(got[i].lr, expected[i].lr);
    err += (got[i].loss - expected[i].loss) * (got[i].loss - expected[i].loss);
    ref += expected[i].loss * expected[i].loss;
  }
  EXPECT_LE(err / ref, kStepRelativeError * kStepRelativeError) << "NMSE of the loss curve";
  // Not vacuous: the GPU's parameters moved, and the losses vary from step to step (by
  // ~1e-2 on the CPU) far more than the bound allows the devices to differ.
  EXPECT_NE(param_snapshot(gpu.model()), init);
  double spread = 0;
  for (const StepResult& r : expected)
    spread = std::max(spread, std::abs(r.loss - expected.front().loss));
  EXPECT_GT(spread, 100 * kStepRelativeError * expected.front().loss);

  const EvalResult e_cpu = cpu.evaluate(), e_gpu = gpu.evaluate();
  EXPECT_EQ(e_gpu.predictions, e_cpu.predictions);
  EXPECT_NEAR(e_gpu.loss, e_cpu.loss, kStepRelativeError * e_cpu.loss);
}

TEST(TrainerGpu, CheckpointResumesBitwiseWithTheCpuBytes) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run();
  const auto dir = fresh_dir("gpu_resume"), cpu_dir = fresh_dir("gpu_resume_cpu");
  constexpr int64_t N = 3;
  auto gpu_trainer = [&](const std::filesystem::path& run_dir) {
    return std::make_unique<Trainer>(run.config, *run.data.train, nullptr, run_dir, TrainerHooks{},
                                     nullptr, nullptr, Device::CUDA);
  };

  const auto straight = gpu_trainer("");
  const std::vector<double> expected = testing::run_steps(*straight, 2 * N);
  std::vector<double> losses;
  std::vector<float> params_at_n;
  {
    const auto first = gpu_trainer(dir);
    losses = testing::run_steps(*first, N);
    first->save_checkpoint();
    params_at_n = param_snapshot(first->model());
  }
  const auto second = gpu_trainer(dir);
  ASSERT_TRUE(second->resume());
  EXPECT_EQ(second->step(), N);
  for (double l : testing::run_steps(*second, N)) losses.push_back(l);
  EXPECT_EQ(losses, expected);  // bit for bit
  EXPECT_EQ(param_snapshot(second->model()), param_snapshot(straight->model()));
  EXPECT_EQ(arena_snapshot(second->optimizer().state_arena()),
            arena_snapshot(straight->optimizer().state_arena()));
  const auto fresh = gpu_trainer("");
  EXPECT_NE(param_snapshot(fresh->model()), param_snapshot(straight->model()));

  // The GPU's checkpoint, loaded by a CPU trainer and saved again, is the same files byte
  // for byte: the layout on disk does not depend on the device.
  const auto gpu_checkpoint = checkpoint_path(dir / "checkpoints", N);
  Trainer cpu(run.config, *run.data.train, nullptr, cpu_dir);
  cpu.resume_from(gpu_checkpoint);
  EXPECT_EQ(param_snapshot(cpu.model()), params_at_n);
  cpu.save_checkpoint();
  const auto cpu_checkpoint = checkpoint_path(cpu_dir / "checkpoints", N);
  for (const char* file :
       {"model.safetensors", "optimizer.safetensors", "trainer_state.json", "config.json"})
    EXPECT_EQ(file_bytes(cpu_checkpoint / file), file_bytes(gpu_checkpoint / file)) << file;
}

// A kernel that met bad input raises the device's error flag; a checkpoint then fails
// before writing anything rather than save state that input may have spoiled.
TEST(TrainerGpu, CheckpointRefusesStateAfterAKernelFoundBadInput) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto run = small_run();
  const auto dir = fresh_dir("gpu_checkpoint_error_flag");
  Trainer trainer(run.config, *run.data.train, nullptr, dir, {}, nullptr, nullptr, Device::CUDA);
  testing::run_steps(trainer, 1);
  const int raised = static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE);
  CUDA_CHECK(cudaMemcpy(trainer.device_context().ctx().cuda->error_flag(), &raised, sizeof(int),
                        cudaMemcpyHostToDevice));
  testing::expect_error([&] { trainer.save_checkpoint(); }, "outside its table");
  EXPECT_FALSE(std::filesystem::exists(trainer.checkpoints_dir()));
  trainer.save_checkpoint();  // the flag was reported once and cleared
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(trainer.checkpoints_dir(), 1)));
}

// ZeRO-1 checkpoints (one rank here) gather the optimizer state into host memory, through
// the gradient buffer, and resume from it: bitwise the uninterrupted run. That host copy has
// the unsharded optimizer's layout, the one checkpoints hold, and cannot update the GPU's
// parameters.
TEST(TrainerGpu, ZeroOneCheckpointsKeepTheWholeOptimizerStateOffTheGpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  testing::expect_bitwise_resume([] { return small_run({"train.zero=1"}); },
                                 fresh_dir("gpu_resume_zero1"), 3, Device::CUDA);
  const auto run = small_run();
  DeviceContext device(Device::CUDA);
  Trainer trainer(run.config, *run.data.train, nullptr, "", {}, nullptr, nullptr, Device::CUDA);
  MlmModel& model = trainer.model();
  const auto state = AdamW::host_state(model.params(), model.grads(), run.config.train.optimizer);
  EXPECT_EQ(state->first_moment().device, Device::CPU);
  EXPECT_EQ(state->state_arena().capacity(), trainer.optimizer().state_arena().capacity());
  testing::expect_error([&] { state->update(device.ctx(), 1e-3, 1.0, 1.0); },
                        "cannot update parameters on the GPU");
}

TEST(HostMirrorGpu, ViewsMapByOffsetAndCopyBothWays) {
  MASKLM_SKIP_WITHOUT_GPU();
  Arena arena(4096, Device::CUDA);
  const Tensor a = arena.alloc({3}, DType::F32), b = arena.alloc({5}, DType::F32);
  arena.zero();
  HostMirror mirror(arena);
  mirror.pull();
  const Tensor ha = mirror(a), hb = mirror(b);
  ASSERT_EQ(ha.device, Device::CPU);
  EXPECT_EQ(static_cast<char*>(hb.data) - static_cast<char*>(ha.data),
            static_cast<char*>(b.data) - static_cast<char*>(a.data));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(hb.ptr<float>()[i], 0.0f);  // pulled the zeros
    hb.ptr<float>()[i] = static_cast<float>(i + 1);
  }
  mirror.push();
  std::vector<float> back(5);
  copy_tensor(host_tensor(back), b);
  EXPECT_EQ(back, (std::vector<float>{1, 2, 3, 4, 5}));
  // A view from elsewhere has no twin.
  Arena other(1024, Device::CUDA);
  const Tensor c = other.alloc({2}, DType::F32);
  testing::expect_error([&] { (void)mirror(c); }, "not inside the mirrored arena");
}

}  // namespace
}  // namespace masklm
