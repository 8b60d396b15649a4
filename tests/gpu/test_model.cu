// One full training step (forward with dropout, backward, AdamW) of a small model on the
// GPU against the same step on the CPU in fp32, post-LN and pre-LN, standard and
// skip-corrupted; and two GPU runs of the step must agree bit for bit (every GPU kernel is
// deterministic).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gpu/op_harness.cuh"
#include "model_test_support.h"
#include "train/run_config.h"

namespace masklm {
namespace {

using gpu_testing::expect_bitwise_equal;
using gpu_testing::expect_close;
using gpu_testing::nmse_bound;

// The shared small model at awkward sizes: vocab, hidden, heads and FFN width that are
// not multiples of a warp or a tile, and sequences of 1, 127 and 50 tokens.
ModelConfig step_config(bool pre_ln) {
  ModelConfig c = testing::small_config(pre_ln);
  c.vocab_size = 1003;
  c.hidden_size = 96;
  c.num_heads = 3;
  c.intermediate_size = 136;
  c.max_position_embeddings = 160;
  return c;
}

Batch step_batch(const ModelConfig& c) { return testing::random_batch(c, {1, 127, 50}, 11); }

// What one training step leaves behind, copied to the host.
struct StepResult {
  double loss = 0;
  int64_t correct = 0;
  double grad_squares = 0;
  std::vector<float> grads, params;
};

std::vector<float> to_host(const Tensor& flat) {
  std::vector<float> host(static_cast<size_t>(flat.numel()));
  copy_tensor(host_tensor(host, flat.shape), flat);
  return host;
}

StepResult train_step(const ModelConfig& cfg, const Batch& batch, Ctx& ctx, Device device) {
  MlmModel model(cfg, {batch.num_tokens(), batch.num_predictions()}, DType::F32, device);
  model.set_vocab_chunk(300);  // several chunks, the last one shorter
  model.init_weights(5);
  const int64_t n = model.param_arena().flat(DType::F32).numel();
  Arena moments(2 * (static_cast<size_t>(n) * sizeof(float) + kArenaAlignment), device);
  const Tensor m = moments.alloc({n}, DType::F32), v = moments.alloc({n}, DType::F32);
  moments.zero();
  const DropoutPlan dropout{RngKey{.seed = 99, .step = 1, .rank = 0}, true};
  StepResult r;
  const MlmStats stats = model.forward(ctx, batch, dropout);
  model.zero_grads(ctx);
  model.backward(ctx, dropout);
  const Tensor grads = model.grad_arena().flat(DType::F32), params = model.param_arena().flat(DType::F32);
  r.grad_squares = sum_squares(ctx, grads);
  adamw_update(
      ctx, params, grads, m, v,
      AdamWStep{
          .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01, .step = 1});
  synchronize(ctx);
  r.loss = stats.loss;
  r.correct = stats.correct;
  r.grads = to_host(grads);
  r.params = to_host(params);
  return r;
}

// The GPU's step against the CPU's, by NMSE (fp32 summation order differs).
void expect_step_matches_cpu(const ModelConfig& cfg, const Batch& batch) {
  Ctx cpu;
  const StepResult expected = train_step(cfg, batch, cpu, Device::CPU);
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  const StepResult got = train_step(cfg, batch, gpu, Device::CUDA);
  EXPECT_NEAR(got.loss, expected.loss, 1e-5 * expected.loss);
  EXPECT_EQ(got.correct, expected.correct);
  EXPECT_NEAR(got.grad_squares, expected.grad_squares, 1e-4 * expected.grad_squares);
  expect_close(got.grads, expected.grads, nmse_bound(DType::F32), "gradients");
  expect_close(got.params, expected.params, nmse_bound(DType::F32), "parameters after AdamW");
}

// Two GPU runs of the step give the same bits (every GPU kernel is deterministic).
void expect_gpu_step_reproducible(const ModelConfig& cfg, const Batch& batch) {
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  const StepResult first = train_step(cfg, batch, gpu, Device::CUDA);
  const StepResult second = train_step(cfg, batch, gpu, Device::CUDA);
  EXPECT_EQ(first.loss, second.loss);
  EXPECT_EQ(first.grad_squares, second.grad_squares);
  expect_bitwise_equal(second.grads, first.grads, "gradients");
  expect_bitwise_equal(second.params, first.params, "parameters after AdamW");
}

class ModelStepGpu : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Norms, ModelStepGpu, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "PreLN" : "PostLN"; });

TEST_P(ModelStepGpu, TrainingStepMatchesCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig cfg = step_config(GetParam());
  expect_step_matches_cpu(cfg, step_batch(cfg));
}

TEST_P(ModelStepGpu, TwoGpuRunsAreBitwiseIdentical) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig cfg = step_config(GetParam());
  expect_gpu_step_reproducible(cfg, step_batch(cfg));
}

// The skip-corrupted model (model/skip_corrupted.h) with one decoder layer: every third
// predicted token is corrupted to [MASK], and so is the 1-token sequence, which then
// reaches the encoder empty.
class SkipCorruptedStepGpu : public ::testing::TestWithParam<bool> {
 protected:
  static constexpr int32_t kMaskId = 3;
  static ModelConfig config(bool pre_ln) {
    ModelConfig c = step_config(pre_ln);
    c.skip_corrupted = true;
    c.decoder_layers = 1;
    c.mask_token_id = kMaskId;
    return c;
  }
  static Batch batch(const ModelConfig& c) {
    Batch b = step_batch(c);
    b.corrupted.assign(b.tokens.size(), 0);
    for (size_t p = 0; p < b.predict_index.size(); p += 3) {
      b.corrupted[static_cast<size_t>(b.predict_index[p])] = 1;
      b.tokens[static_cast<size_t>(b.predict_index[p])] = kMaskId;
    }
    b.corrupted[0] = 1;  // the 1-token sequence comes first
    return b;
  }
};
INSTANTIATE_TEST_SUITE_P(Norms, SkipCorruptedStepGpu, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "PreLN" : "PostLN"; });

TEST_P(SkipCorruptedStepGpu, TrainingStepMatchesCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig cfg = config(GetParam());
  expect_step_matches_cpu(cfg, batch(cfg));
}

TEST_P(SkipCorruptedStepGpu, TwoGpuRunsAreBitwiseIdentical) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig cfg = config(GetParam());
  expect_gpu_step_reproducible(cfg, batch(cfg));
}

// After reserve_device_memory no step allocates device memory (issue 5: all memory at
// start-up), whatever the batch below the capacity: more tokens or predictions than the
// steps before it, other sequence splits, corrupted tokens for the skip-corrupted model.
// Parameters: compute dtype, attention kernel, skip-corrupted.
class ReservedMemoryGpu
    : public ::testing::TestWithParam<std::tuple<DType, AttentionKernel, bool>> {};
INSTANTIATE_TEST_SUITE_P(
    Kinds, ReservedMemoryGpu,
    ::testing::Values(std::tuple{DType::F32, AttentionKernel::AUTO, false},
                      std::tuple{DType::BF16, AttentionKernel::FUSED, false},
                      std::tuple{DType::BF16, AttentionKernel::REFERENCE, false},
                      std::tuple{DType::BF16, AttentionKernel::FUSED, true}),
    [](const auto& info) {
      return std::string(dtype_name(std::get<0>(info.param))) + "_" +
             std::string(attention_kernel_name(std::get<1>(info.param))) +
             (std::get<2>(info.param) ? "_skip" : "");
    });

TEST_P(ReservedMemoryGpu, NoStepAllocatesAfterTheReservation) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [dtype, attention, skip] = GetParam();
  ModelConfig cfg = step_config(true);  // head size 32: the fused kernel takes it
  constexpr int32_t kMaskId = 3;
  if (skip) {
    cfg.skip_corrupted = true;
    cfg.decoder_layers = 1;
    cfg.mask_token_id = kMaskId;
  }
  constexpr int64_t kSeqLen = 40, kTokens = 3 * kSeqLen;
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  gpu.attention = attention;
  MlmModel model(cfg, Capacity{kTokens, kTokens}, dtype, Device::CUDA);
  model.set_vocab_chunk(300);
  model.init_weights(5);
  model.reserve_device_memory(gpu, kSeqLen);
  const std::vector<size_t> reserved = cuda.largest_requests();
  EXPECT_GT(reserved[0], 0u) << "no op asked for scratch";

  // Every token predicted; for the skip-corrupted model every `corrupt_every`-th token
  // corrupted (0: none, 1: all, so the encoder sees nothing).
  const auto predict_all = [&](Batch b, int corrupt_every) {
    b.predict_index.clear();
    b.labels.clear();
    b.corrupted.assign(b.tokens.size(), 0);
    for (int64_t i = 0; i < b.num_tokens(); ++i) {
      b.add_prediction(static_cast<int32_t>(i), b.tokens[static_cast<size_t>(i)]);
      if (skip && corrupt_every > 0 && i % corrupt_every == 0) {
        b.corrupted[static_cast<size_t>(i)] = 1;
        b.tokens[static_cast<size_t>(i)] = kMaskId;
      }
    }
    return b;
  };
  const DropoutPlan dropout{RngKey{.seed = 99, .step = 1, .rank = 0}, true};
  for (const Batch& batch : {testing::random_batch(cfg, {1, 27, 50}, 11),
                             predict_all(testing::random_batch(cfg, {40, 40, 40}, 12), 2),
                             predict_all(testing::random_batch(cfg, {20, 20, 20, 20, 20, 20}, 13), 0),
                             predict_all(testing::random_batch(cfg, {1, 1, 1, 40, 40, 37}, 14), 1)}) {
    model.zero_grads(gpu);
    model.forward(gpu, batch, dropout);
    model.backward(gpu, dropout);
    sum_squares(gpu, model.grad_arena().flat(DType::F32));
    synchronize(gpu);
    EXPECT_EQ(cuda.largest_requests(), reserved)
        << "a step of " << batch.num_tokens() << " tokens and " << batch.num_predictions()
        << " predictions asked for more than was reserved";
  }
}

}  // namespace
}  // namespace masklm
