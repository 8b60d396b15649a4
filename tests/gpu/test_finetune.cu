// The fine-tuning models on the GPU against the same models on the CPU, in fp32 and in bf16
// and fp16 mixed precision (the CPU rounds 16-bit tensors as the GPU kernels do): the
// classifier (classification and regression) and the span model, one forward and backward
// with dropout (loss, logits, predictions, gradients); that memory reserved at start-up
// covers every batch within the capacity; the GLUE and SQuAD training loops over
// two epochs (their losses, the parameters they leave, the predictions or logits after
// them); a checkpoint's encoder loaded into the GPU's buffers; and the jobs around the loops,
// from task files to written scores (their tokenizer fixture found through
// tests/fixture_path.h, which scripts/gpu-check points at the checkout it runs in).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "data_test_support.h"
#include "finetune_test_support.h"
#include "fixture_path.h"
#include "gpu/op_harness.cuh"
#include "kernels/device_context.h"
#include "model/sequence_classifier.h"
#include "model/span_extraction.h"
#include "model_test_support.h"
#include "runtime/host_mirror.h"
#include "squad_test_support.h"
#include "train/finetune.h"
#include "train/finetune_scores.h"
#include "train/finetune_squad.h"

namespace masklm {
namespace {

using gpu_testing::expect_close;
using gpu_testing::nmse_bound;

// Head size 32, which the fused attention takes, as bf16 fine-tuning runs it.
ModelConfig finetune_config() {
  ModelConfig c = testing::small_config(true);
  c.vocab_size = 101;
  c.max_position_embeddings = 64;
  c.hidden_size = 64;
  c.num_heads = 2;
  c.intermediate_size = 128;
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

// How far the GPU may be from the CPU in a compute dtype. fp32 differs by summation order
// alone. In 16 bits both devices round every stored activation and the compute copy of the
// weights alike (to 8 significand bits in bf16, 11 in fp16), but round differently summed
// values (GEMM order, the fused attention's 16-bit probabilities), so each carries the
// 16-bit error against exact arithmetic: the bounds, bf16's for both, are a few times the
// CPU's bf16 against F64 (tests/test_finetune_mixed.cpp: loss 1.1e-2 relative, logit NMSE
// 2.3e-4, gradient NMSE 8.9e-4), loose for subtle errors (the fp32 cases hold the same code
// to fp32's bounds) but not for what mixed precision adds: a stale compute copy or a lost
// gradient upload moves the results by O(1). Measured on the emulated backend in bf16
// (2026-12-07; it differs from the CPU's in the attention only): losses within 2e-4
// relative, logit NMSE up to 4.5e-6, gradient NMSE up to 6.9e-6, parameters after training
// 1.6e-7.
struct Tolerance {
  double loss;        // relative, one pass
  double outputs;     // NMSE of logits, scores and span logits
  double grads;       // NMSE
  double epoch_loss;  // relative, the training loops' epoch means
  double params;      // NMSE after the training loops
  // Labels must agree where the CPU's top two logits differ by more than this fraction of
  // the larger one's magnitude.
  double label_margin;
};

Tolerance tolerance(DType dtype) {
  const double f32 = nmse_bound(DType::F32);
  if (dtype == DType::F32) return {1e-5, 1e-7, f32, 1e-4, f32, 1e-4};
  return {5e-2, 2e-3, 5e-3, 2e-2, 1e-3, 5e-2};
}

std::string dtype_test_name(const ::testing::TestParamInfo<DType>& info) {
  return std::string(dtype_name(info.param));
}

// The passes' loss scale: 16-bit activation gradients (some 1e-6 here) would lose bits below
// fp16's smallest normal value unscaled; the gradients come back divided.
double loss_scale(DType dtype) { return dtype == DType::F32 ? 1.0 : 1024.0; }

std::vector<float> unscaled(std::vector<float> grads, DType dtype) {
  for (float& g : grads) g = static_cast<float>(g / loss_scale(dtype));
  return grads;
}

// What one forward and backward leave, on the host.
struct Pass {
  double loss = 0;
  int64_t correct = 0;
  int num_labels = 0;           // classification
  std::vector<int32_t> labels;  // predicted
  std::vector<double> outputs;  // logits (classification), scores, or span logits
  std::vector<float> grads;
};

Pass classifier_pass(Ctx& ctx, int num_labels, DType dtype) {
  const ModelConfig c = finetune_config();
  const std::vector<EncodedExample> inputs = random_inputs(c, {5, 1, 33, 8}, 7);
  const std::vector<GlueExample> gold = random_gold(inputs.size(), num_labels, 8);
  ClassificationBatch batch;
  for (size_t i = 0; i < inputs.size(); ++i)
    batch.add(inputs[i].ids, inputs[i].types, std::max(gold[i].label, 0), gold[i].score);
  FineTuneModel model(c, num_labels, batch.seqs.num_tokens(), batch.size(), dtype, ctx.device);
  model.init_weights(3);
  model.zero_grads(ctx);
  Pass p;
  const FineTuneStats stats = model.forward(ctx, batch, kDropout);
  p.loss = stats.loss;
  p.correct = stats.correct;
  p.outputs = testing::host_doubles(model.last_logits());
  if (!model.is_regression()) {
    p.num_labels = num_labels;
    p.labels = model.predicted_labels();
  }
  model.backward(ctx, kDropout, loss_scale(dtype));
  p.grads = unscaled(arena_floats(model.grad_arena()), dtype);
  return p;
}

Pass span_pass(Ctx& ctx, DType dtype) {
  const ModelConfig c = finetune_config();
  SpanBatch batch;
  std::mt19937 rng(9);
  for (const EncodedExample& e : random_inputs(c, {5, 1, 33, 8}, 7)) {
    const auto n = static_cast<int32_t>(e.ids.size());
    const int32_t start = static_cast<int32_t>(rng() % n);
    batch.add(e.ids, e.types, start, start + static_cast<int32_t>(rng() % (n - start)));
  }
  SpanExtractionModel model(c, batch.seqs.num_tokens(), batch.size(), dtype, ctx.device);
  model.init_weights(3);
  model.zero_grads(ctx);
  Pass p;
  p.loss = model.forward(ctx, batch, kDropout);
  for (const SpanLogits& l : model.span_logits()) {
    p.outputs.insert(p.outputs.end(), l.start.begin(), l.start.end());
    p.outputs.insert(p.outputs.end(), l.end.begin(), l.end.end());
  }
  model.backward(ctx, kDropout, loss_scale(dtype));
  p.grads = unscaled(arena_floats(model.grad_arena()), dtype);
  return p;
}

// The predicted labels agree wherever the expected logits (B x K) do not nearly tie;
// returns how many nearly tie.
int64_t expect_labels_agree(const std::vector<int32_t>& got, const std::vector<int32_t>& expected,
                            const std::vector<double>& expected_logits, int num_labels,
                            double margin) {
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(expected_logits.size(), expected.size() * static_cast<size_t>(num_labels));
  int64_t ties = 0;
  for (size_t b = 0; b < std::min(got.size(), expected.size()); ++b) {
    std::vector<double> row(
        expected_logits.begin() + static_cast<std::ptrdiff_t>(b * num_labels),
        expected_logits.begin() + static_cast<std::ptrdiff_t>((b + 1) * num_labels));
    std::sort(row.rbegin(), row.rend());
    if (row[0] - row[1] <= margin * std::max(std::abs(row[0]), std::abs(row[1])))
      ++ties;
    else
      EXPECT_EQ(got[b], expected[b]) << "example " << b;
  }
  EXPECT_LT(ties, static_cast<int64_t>(expected.size())) << "every example nearly ties";
  return ties;
}

void expect_matches(const Pass& got, const Pass& expected, const Tolerance& tol) {
  EXPECT_NEAR(got.loss, expected.loss, tol.loss * expected.loss);
  expect_close(got.outputs, expected.outputs, tol.outputs, "logits");
  if (expected.num_labels > 0) {
    // The correct count may differ only where the labels may.
    const int64_t ties = expect_labels_agree(got.labels, expected.labels, expected.outputs,
                                             expected.num_labels, tol.label_margin);
    EXPECT_LE(std::abs(got.correct - expected.correct), ties);
  }
  expect_close(got.grads, expected.grads, tol.grads, "gradients");
}

// run(gpu ctx) checked against run(cpu ctx) by expect_matches, within `dtype`'s tolerance.
template <typename Run> void expect_gpu_as_cpu(DType dtype, Run&& run) {
  Ctx cpu;
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  expect_matches(run(gpu), run(cpu), tolerance(dtype));
}

class ClassifierGpu : public ::testing::TestWithParam<std::tuple<DType, int>> {};
INSTANTIATE_TEST_SUITE_P(Heads, ClassifierGpu,
                         ::testing::Combine(::testing::Values(DType::F32, DType::BF16, DType::F16),
                                            ::testing::Values(3, 1)),
                         [](const auto& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) == 1 ? "_Regression" : "_ThreeLabels");
                         });

TEST_P(ClassifierGpu, ForwardAndBackwardMatchTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const auto [dtype, num_labels] = GetParam();
  expect_gpu_as_cpu(dtype, [&](Ctx& ctx) { return classifier_pass(ctx, num_labels, dtype); });
}

class FineTuneDtypeGpu : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(Dtypes, FineTuneDtypeGpu,
                         ::testing::Values(DType::F32, DType::BF16, DType::F16), dtype_test_name);

TEST_P(FineTuneDtypeGpu, SpanExtractionForwardAndBackwardMatchTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const DType dtype = GetParam();
  expect_gpu_as_cpu(dtype, [&](Ctx& ctx) { return span_pass(ctx, dtype); });
}

// Reserves `model`'s device memory, then runs a training step and a prediction on batches
// within its capacity of 3 sequences and 120 tokens, split every way, built by `add`: none
// may ask the GPU context (one of its own) for more op scratch than the reservation did.
template <typename TaskBatch, typename Model, typename Add>
void expect_reserved_memory_suffices(Model& model, DType dtype, Add&& add) {
  CudaContext cuda;
  Ctx gpu{Device::CUDA, &cuda};
  model.init_weights(3);
  model.reserve_device_memory(gpu);
  const std::vector<size_t> reserved = cuda.largest_requests();
  EXPECT_GT(reserved[0], 0u) << "no op asked for scratch";
  uint32_t seed = 40;
  for (const std::vector<int>& lengths :
       std::vector<std::vector<int>>{{1, 27, 40}, {40, 40, 40}, {64, 56}, {1}, {5, 5, 5}}) {
    TaskBatch batch;
    for (const EncodedExample& e : random_inputs(model.config(), lengths, ++seed)) add(batch, e);
    model.zero_grads(gpu);
    model.forward(gpu, batch, kDropout);
    model.backward(gpu, kDropout, loss_scale(dtype));
    sum_squares(gpu, model.grad_arena().flat(DType::F32));
    model.forward(gpu, batch, DropoutPlan{});  // a prediction
    synchronize(gpu);
    EXPECT_EQ(cuda.largest_requests(), reserved)
        << "a batch of " << lengths.size() << " sequences asked for more than was reserved";
  }
}

TEST_P(FineTuneDtypeGpu, ReservedMemoryCoversEveryBatch) {
  MASKLM_SKIP_WITHOUT_GPU();
  const DType dtype = GetParam();
  constexpr int64_t kSequences = 3, kTokens = kSequences * 40;
  FineTuneModel classifier(finetune_config(), 3, kTokens, kSequences, dtype, Device::CUDA);
  expect_reserved_memory_suffices<ClassificationBatch>(
      classifier, dtype,
      [](ClassificationBatch& b, const EncodedExample& e) { b.add(e.ids, e.types, 2, 0.0); });
  SpanExtractionModel span(finetune_config(), kTokens, kSequences, dtype, Device::CUDA);
  expect_reserved_memory_suffices<SpanBatch>(
      span, dtype, [](SpanBatch& b, const EncodedExample& e) { b.add(e.ids, e.types, 0, 0); });
}

// What a training loop leaves, on the host: as `masklm finetune --device cuda` runs it.
struct Trained {
  std::vector<EpochLog> epochs;
  std::vector<float> initial, params;  // before and after
  std::vector<int32_t> labels;         // predicted after training (GLUE)
  std::vector<double> outputs;         // logits after training: GLUE's (B x 2), SQuAD's spans
};

void expect_matches(const Trained& got, const Trained& expected, const Tolerance& tol) {
  ASSERT_EQ(got.epochs.size(), expected.epochs.size());
  for (size_t e = 0; e < got.epochs.size(); ++e) {
    EXPECT_EQ(got.epochs[e].skipped_steps, expected.epochs[e].skipped_steps) << "epoch " << e;
    EXPECT_NEAR(got.epochs[e].train_loss, expected.epochs[e].train_loss,
                tol.epoch_loss * expected.epochs[e].train_loss)
        << "epoch " << e;
    EXPECT_NEAR(got.epochs[e].grad_norm, expected.epochs[e].grad_norm,
                tol.epoch_loss * expected.epochs[e].grad_norm)
        << "epoch " << e;
  }
  EXPECT_EQ(got.initial, expected.initial);
  EXPECT_NE(got.params, got.initial) << "the parameters did not move";
  expect_close(got.params, expected.params, tol.params, "parameters after training");
  expect_close(got.outputs, expected.outputs, tol.outputs, "logits after training");
  if (!expected.labels.empty())
    expect_labels_agree(got.labels, expected.labels, expected.outputs, 2, tol.label_margin);
}

FineTuneOptions loop_options(int64_t batch_size) {
  FineTuneOptions o;
  o.lr = 1e-3;
  o.batch_size = batch_size;
  o.epochs = 2;
  return o;
}

// finetune_train and finetune_predict, and the logits behind the predictions.
Trained glue_loop(Ctx& ctx, DType dtype) {
  const ModelConfig c = finetune_config();
  const std::vector<EncodedExample> inputs =
      random_inputs(c, {5, 1, 33, 8, 12, 2, 20, 7, 9, 3}, 21);
  const std::vector<GlueExample> gold = random_gold(inputs.size(), 2, 22);
  const FineTuneOptions o = loop_options(4);
  FineTuneModel model(c, 2, o.batch_size * c.max_position_embeddings, o.batch_size, dtype,
                      ctx.device);
  model.init_weights(4);
  Trained t;
  t.initial = arena_floats(model.param_arena());
  t.epochs = finetune_train(ctx, model, inputs, gold, o);
  t.params = arena_floats(model.param_arena());
  constexpr size_t kPredictBatch = 3;
  t.labels = finetune_predict(ctx, model, inputs, kPredictBatch).labels;
  ClassificationBatch batch;
  for (size_t start = 0; start < inputs.size(); start += kPredictBatch) {
    batch.clear();
    for (size_t i = start; i < std::min(inputs.size(), start + kPredictBatch); ++i)
      batch.add(inputs[i].ids, inputs[i].types, 0, 0.0);
    model.forward(ctx, batch, DropoutPlan{});
    const std::vector<double> logits = testing::host_doubles(model.last_logits());
    t.outputs.insert(t.outputs.end(), logits.begin(), logits.end());
  }
  return t;
}

// squad_train and squad_logits, on windows with random tokens and answer spans.
Trained squad_loop(Ctx& ctx, DType dtype) {
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
  SpanExtractionModel model(c, o.batch_size * c.max_position_embeddings, o.batch_size, dtype,
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

TEST_P(FineTuneDtypeGpu, TheGlueLoopTrainsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const DType dtype = GetParam();
  expect_gpu_as_cpu(dtype, [&](Ctx& ctx) { return glue_loop(ctx, dtype); });
}

TEST_P(FineTuneDtypeGpu, TheSquadLoopTrainsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  const DType dtype = GetParam();
  expect_gpu_as_cpu(dtype, [&](Ctx& ctx) { return squad_loop(ctx, dtype); });
}

// A pretraining checkpoint's encoder lands in the GPU's buffers as in the CPU's, bit for
// bit, and the head keeps its initialization.
TEST(FineTuneGpu, LoadsACheckpointsEncoder) {
  MASKLM_SKIP_WITHOUT_GPU();
  const ModelConfig c = finetune_config();
  const auto run = std::filesystem::temp_directory_path() / "masklm_test_finetune_gpu_load";
  std::filesystem::remove_all(run);
  std::filesystem::create_directories(run);
  const std::filesystem::path dir =
      testing::write_pretrained_run(run, c, testing::fixture("tokenizer_wordpiece.json"));
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

// The jobs around the loops, as `masklm finetune --device cuda --set precision=bf16` runs
// them: a task's files read, a checkpoint's encoder loaded, two epochs, the dev scores
// written; on the GPU against the same job on the CPU.
class FineTuneJobGpu : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const std::filesystem::path wordpiece = testing::fixture("tokenizer_wordpiece.json");
    ModelConfig c = finetune_config();
    c.vocab_size = Tokenizer::load(wordpiece)->vocab_size();
    checkpoint_ = testing::write_pretrained_run(dir_ / "run", c, wordpiece);
  }
  std::filesystem::path out(Device device) const { return dir_ / "out" / device_name(device); }

  // Epoch by epoch, the losses and gradient norms within bf16 rounding of the CPU's.
  static void expect_epochs_match(const std::vector<EpochLog>& got,
                                  const std::vector<EpochLog>& expected) {
    const Tolerance tol = tolerance(DType::BF16);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t e = 0; e < got.size(); ++e) {
      EXPECT_NEAR(got[e].train_loss, expected[e].train_loss,
                  tol.epoch_loss * expected[e].train_loss)
          << "epoch " << e;
      EXPECT_NEAR(got[e].grad_norm, expected[e].grad_norm, tol.epoch_loss * expected[e].grad_norm)
          << "epoch " << e;
    }
  }

  std::filesystem::path checkpoint_;
};

TEST_F(FineTuneJobGpu, GlueRunsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  std::filesystem::create_directories(dir_ / "glue" / "SST-2");
  write_file("glue/SST-2/train.tsv", testing::sentiment_tsv(48, 0.5, 1));
  write_file("glue/SST-2/dev.tsv", testing::sentiment_tsv(20, 0.3, 2));
  const auto run = [&](Device device) {
    return run_glue_finetune(
        {checkpoint_,
         "glue/sst2",
         dir_ / "glue",
         out(device),
         {},
         parse_finetune_options(finetune_settings(
             {"lr=2e-3", "batch_size=16", "epochs=2", "max_length=16", "precision=bf16"})),
         device});
  };
  const GlueFineTuneResult cpu = run(Device::CPU), gpu = run(Device::CUDA);
  expect_epochs_match(gpu.epochs, cpu.epochs);
  ASSERT_EQ(gpu.dev_scores.size(), 1u);
  // Predictions may flip on near ties: 2 of the 20 dev sentences.
  EXPECT_NEAR(gpu.dev_scores[0].second, cpu.dev_scores[0].second, 0.1);
  EXPECT_EQ(read_task_scores(out(Device::CUDA) / "finetune.json", "sst2")->at("accuracy"),
            gpu.dev_scores[0].second);
}

TEST_F(FineTuneJobGpu, SquadRunsAsOnTheCpu) {
  MASKLM_SKIP_WITHOUT_GPU();
  std::filesystem::create_directories(dir_ / "squad");
  write_file("squad/train-v1.1.json", testing::synthetic_squad(24, 1, SquadVersion::V1_1).dump());
  write_file("squad/dev-v1.1.json", testing::synthetic_squad(8, 2, SquadVersion::V1_1).dump());
  const auto run = [&](Device device) {
    return run_squad_finetune({checkpoint_,
                               "squad/v1.1",
                               dir_ / "squad",
                               out(device),
                               {},
                               parse_squad_options(finetune_settings(
                                   {"lr=2e-3", "batch_size=16", "epochs=2", "max_length=32",
                                    "doc_stride=16", "precision=bf16"})),
                               device});
  };
  const SquadFineTuneResult cpu = run(Device::CPU), gpu = run(Device::CUDA);
  EXPECT_EQ(gpu.train_features, cpu.train_features);
  expect_epochs_match(gpu.epochs, cpu.epochs);
  const std::map<std::string, double> written =
      read_task_scores(out(Device::CUDA) / "finetune.json", "squad_v1.1").value();
  EXPECT_EQ(written.size(), 2u);  // exact, f1
  EXPECT_TRUE(std::filesystem::exists(out(Device::CUDA) / "squad_v1.1.dev.predictions.json"));
}

}  // namespace
}  // namespace masklm
