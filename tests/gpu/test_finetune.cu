// The fine-tuning models on the GPU (fp32) against the same models on the CPU: the
// classifier (classification and regression) and the span model, one forward and backward
// with dropout (loss, predictions, gradients); the GLUE and SQuAD training loops over two
// epochs (their losses, the parameters they leave, the predictions or logits after them);
// and a checkpoint's encoder loaded into the GPU's buffers. (The jobs around the loops read
// tokenizer fixtures, which a GPU machine running a carried build would not find: their
// device handling is a DeviceContext made first, tests/test_grid_cli.cpp.)
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "gpu/op_harness.cuh"
#include "model/sequence_classifier.h"
#include "model/span_extraction.h"
#include "model_test_support.h"
#include "runtime/host_mirror.h"
#include "train/checkpoint.h"
#include "train/finetune.h"
#include "train/finetune_squad.h"
#include "train/optimizer.h"

namespace masklm {
namespace {

using gpu_testing::expect_close;
using gpu_testing::nmse_bound;

ModelConfig finetune_config() {
  ModelConfig c = testing::small_config(true);
  c.vocab_size = 101;
  c.max_position_embeddings = 64;
  return c;
}

// Random tokens and types in sequences of awkward lengths.
std::vector<EncodedExample> random_inputs(const ModelConfig& c, const std::vector<int>& lengths,
                                          uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<EncodedExample> out;
  for (int len : lengths) {
    EncodedExample e;
    for (int i = 0; i < len; ++i) {
      e.ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
      e.types.push_back(static_cast<int32_t>(rng() % 2));
    }
    out.push_back(e);
  }
  return out;
}

// A label (num_labels > 1) or a score for each input, drawn from the seed.
std::vector<GlueExample> random_gold(size_t n, int num_labels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<GlueExample> gold(n);
  for (GlueExample& g : gold) {
    if (num_labels > 1) g.label = static_cast<int32_t>(rng() % num_labels);
    g.score = static_cast<double>(rng() % 100) / 25.0 - 2.0;
  }
  return gold;
}

std::vector<float> arena_floats(const Arena& arena) {
  HostMirror host(arena);
  host.pull();
  const Tensor flat = host.flat(DType::F32);
  return {flat.ptr<float>(), flat.ptr<float>() + flat.numel()};
}

const DropoutPlan kDropout{RngKey{.seed = 5, .step = 2}, true};

// What one forward and backward leave, on the host.
struct Pass {
  double loss = 0;
  int64_t correct = 0;
  std::vector<int32_t> labels;
  std::vector<double> outputs;  // regression scores, or span logits (starts, then ends)
  std::vector<float> grads;
};

Pass classifier_pass(Ctx& ctx, int num_labels) {
  const ModelConfig c = finetune_config();
  const std::vector<EncodedExample> inputs = random_inputs(c, {5, 1, 33, 8}, 7);
  const std::vector<GlueExample> gold = random_gold(inputs.size(), num_labels, 8);
  ClassificationBatch batch;
  for (size_t i = 0; i < inputs.size(); ++i)
    batch.add(inputs[i].ids, inputs[i].types, std::max(gold[i].label, 0), gold[i].score);
  FineTuneModel model(c, num_labels, batch.seqs.num_tokens(), batch.size(), DType::F32, ctx.device);
  model.init_weights(3);
  model.zero_grads(ctx);
  Pass p;
  const FineTuneStats stats = model.forward(ctx, batch, kDropout);
  p.loss = stats.loss;
  p.correct = stats.correct;
  if (model.is_regression())
    p.outputs = model.predicted_scores();
  else
    p.labels = model.predicted_labels();
  model.backward(ctx, kDropout);
  p.grads = arena_floats(model.grad_arena());
  return p;
}

Pass span_pass(Ctx& ctx) {
  const ModelConfig c = finetune_config();
  SpanBatch batch;
  std::mt19937 rng(9);
  for (const EncodedExample& e : random_inputs(c, {5, 1, 33, 8}, 7)) {
    const auto n = static_cast<int32_t>(e.ids.size());
    const int32_t start = static_cast<int32_t>(rng() % n);
    batch.add(e.ids, e.types, start, start + static_cast<int32_t>(rng() % (n - start)));
  }
  SpanExtractionModel model(c, batch.seqs.num_tokens(), batch.size(), DType::F32, ctx.device);
  model.init_weights(3);
  model.zero_grads(ctx);
  Pass p;
  p.loss = model.forward(ctx, batch, kDropout);
  for (const SpanLogits& l : model.span_logits()) {
    p.outputs.insert(p.outputs.end(), l.start.begin(), l.start.end());
    p.outputs.insert(p.outputs.end(), l.end.begin(), l.end.end());
  }
  model.backward(ctx, kDropout);
  p.grads = arena_floats(model.grad_arena());
  return p;
}

void expect_outputs_near(const std::vector<double>& got, const std::vector<double>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4) << "output " << i;
}

void expect_pass_matches(const Pass& got, const Pass& expected) {
  EXPECT_NEAR(got.loss, expected.loss, 1e-5 * expected.loss);
  EXPECT_EQ(got.correct, expected.correct);
  EXPECT_EQ(got.labels, expected.labels);
  expect_outputs_near(got.outputs, expected.outputs);
  expect_close(got.grads, expected.grads, nmse_bound(DType::F32), "gradients");
}

// run(gpu ctx) checked against run(cpu ctx) by expect(got, expected).
template <typename Run, typename Expect> void expect_gpu_as_cpu(Run&& run, Expect&& expect) {
  Ctx cpu;
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  expect(run(gpu), run(cpu));
}

class ClassifierGpu : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Heads, ClassifierGpu, ::testing::Values(3, 1),
                         [](const auto& info) { return info.param == 1 ? "Regression" : "ThreeLabels"; });

TEST_P(ClassifierGpu, ForwardAndBackwardMatchTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  expect_gpu_as_cpu([&](Ctx& ctx) { return classifier_pass(ctx, GetParam()); }, expect_pass_matches);
}

TEST(SpanExtractionGpu, ForwardAndBackwardMatchTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  expect_gpu_as_cpu(span_pass, expect_pass_matches);
}

// What a training loop leaves, on the host: as `masklm finetune --device cuda` runs it.
struct Trained {
  std::vector<EpochLog> epochs;
  std::vector<float> initial, params;  // before and after
  std::vector<int32_t> labels;         // predicted after training (GLUE)
  std::vector<double> outputs;         // span logits after training (SQuAD)
};

void expect_training_matches(const Trained& got, const Trained& expected) {
  ASSERT_EQ(got.epochs.size(), expected.epochs.size());
  for (size_t e = 0; e < got.epochs.size(); ++e)
    EXPECT_NEAR(got.epochs[e].train_loss, expected.epochs[e].train_loss,
                1e-4 * expected.epochs[e].train_loss)
        << "epoch " << e;
  EXPECT_EQ(got.initial, expected.initial);
  EXPECT_NE(got.params, got.initial) << "the parameters did not move";
  expect_close(got.params, expected.params, nmse_bound(DType::F32), "parameters after training");
  EXPECT_EQ(got.labels, expected.labels);
  expect_outputs_near(got.outputs, expected.outputs);
}

FineTuneOptions loop_options(int64_t batch_size) {
  FineTuneOptions o;
  o.lr = 1e-3;
  o.batch_size = batch_size;
  o.epochs = 2;
  return o;
}

// finetune_train and finetune_predict.
Trained glue_loop(Ctx& ctx) {
  const ModelConfig c = finetune_config();
  const std::vector<EncodedExample> inputs =
      random_inputs(c, {5, 1, 33, 8, 12, 2, 20, 7, 9, 3}, 21);
  const std::vector<GlueExample> gold = random_gold(inputs.size(), 2, 22);
  const FineTuneOptions o = loop_options(4);
  FineTuneModel model(c, 2, o.batch_size * c.max_position_embeddings, o.batch_size, DType::F32,
                      ctx.device);
  model.init_weights(4);
  Trained t;
  t.initial = arena_floats(model.param_arena());
  t.epochs = finetune_train(ctx, model, inputs, gold, o);
  t.params = arena_floats(model.param_arena());
  t.labels = finetune_predict(ctx, model, inputs, 3).labels;
  return t;
}

// squad_train and squad_logits, on windows with random tokens and answer spans.
Trained squad_loop(Ctx& ctx) {
  const ModelConfig c = finetune_config();
  std::vector<SquadFeature> features;
  std::mt19937 rng(31);
  for (const EncodedExample& e : random_inputs(c, {9, 2, 40, 17, 5, 23, 11}, 30)) {
    SquadFeature f;
    f.ids = e.ids;
    f.types = e.types;
    const auto n = static_cast<int32_t>(e.ids.size());
    f.start = static_cast<int32_t>(rng() % n);
    f.end = f.start + static_cast<int32_t>(rng() % (n - f.start));
    features.push_back(f);
  }
  const FineTuneOptions o = loop_options(3);
  SpanExtractionModel model(c, o.batch_size * c.max_position_embeddings, o.batch_size, DType::F32,
                            ctx.device);
  model.init_weights(6);
  Trained t;
  t.initial = arena_floats(model.param_arena());
  t.epochs = squad_train(ctx, model, features, o);
  t.params = arena_floats(model.param_arena());
  for (const SpanLogits& l : squad_logits(ctx, model, features, 2)) {
    t.outputs.insert(t.outputs.end(), l.start.begin(), l.start.end());
    t.outputs.insert(t.outputs.end(), l.end.begin(), l.end.end());
  }
  return t;
}

TEST(FineTuneGpu, TheGlueLoopTrainsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  expect_gpu_as_cpu(glue_loop, expect_training_matches);
}

TEST(FineTuneGpu, TheSquadLoopTrainsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  expect_gpu_as_cpu(squad_loop, expect_training_matches);
}

// A pretraining checkpoint's encoder lands in the GPU's buffers as in the CPU's, bit for
// bit, and the head keeps its initialization.
TEST(FineTuneGpu, LoadsACheckpointsEncoder) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig c = finetune_config();
  MlmModel pretrained(c, Capacity{8, 8});
  pretrained.init_weights(11);
  AdamW unused(pretrained.params(), pretrained.grads(), AdamWConfig{});
  const auto dir = std::filesystem::temp_directory_path() / "masklm_test_finetune_gpu_load";
  std::filesystem::remove_all(dir);
  save_checkpoint(dir, pretrained, unused, TrainerState{}, nlohmann::json::object());
  const auto loaded = [&](Device device) {
    FineTuneModel model(c, 3, 64, 4, DType::F32, device);
    model.init_weights(12);
    model.load_encoder(dir);
    return arena_floats(model.param_arena());
  };
  const std::vector<float> on_cpu = loaded(Device::CPU);
  EXPECT_EQ(loaded(Device::CUDA), on_cpu);
  // Against a model left as initialized: the encoder differs, the head from its first
  // tensor on does not.
  FineTuneModel fresh(c, 3, 64, 4);
  fresh.init_weights(12);
  const std::vector<float> initialized = arena_floats(fresh.param_arena());
  const ParamLayout& layout = fresh.params();
  const auto head = static_cast<std::ptrdiff_t>(element_offset(
      layout, layout.table[layout.table.size() - classifier_head_specs(c, 3).size()]));
  EXPECT_NE(std::vector<float>(on_cpu.begin(), on_cpu.begin() + head),
            std::vector<float>(initialized.begin(), initialized.begin() + head))
      << "nothing was loaded";
  EXPECT_EQ(std::vector<float>(on_cpu.begin() + head, on_cpu.end()),
            std::vector<float>(initialized.begin() + head, initialized.end()))
      << "the head was overwritten";
}

}  // namespace
}  // namespace masklm
