#include "train/finetune.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/device_context.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/log.h"
#include "train/finetune_loop.h"
#include "train/finetune_scores.h"
#include "train/finetune_start.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

void write_predictions(const fs::path& path, const GlueTask& task, const GluePredictions& predictions) {
  std::string text;
  for (size_t i = 0; i < predictions.size(); ++i)
    text += task.is_regression() ? fmt::format("{}\n", predictions.scores[i])
                                 : task.label_names[static_cast<size_t>(predictions.labels[i])] + "\n";
  write_file_atomic(path, text);
}

std::vector<EncodedExample> encode_all(const Tokenizer& tokenizer, const std::vector<GlueExample>& examples,
                                       int64_t max_length, int64_t type_vocab_size) {
  std::vector<EncodedExample> out;
  out.reserve(examples.size());
  for (const GlueExample& e : examples) out.push_back(encode_glue_example(tokenizer, e, max_length, type_vocab_size));
  return out;
}

}  // namespace

EncodedExample encode_glue_example(const Tokenizer& tokenizer, const GlueExample& example, int64_t max_length,
                                   int64_t type_vocab_size) {
  const SpecialTokens& special = tokenizer.special_tokens();
  MASKLM_CHECK(special.cls >= 0 && special.sep >= 0,
               "the tokenizer has no [CLS]/[SEP] (or <s>/</s>) tokens to build classification inputs from");
  // RoBERTa separates a pair with two </s>; BERT with one [SEP].
  const bool double_sep = tokenizer.id_to_token(special.cls) == "<s>";
  const bool pair = !example.text_b.empty();
  std::vector<int32_t> a = tokenizer.encode(example.text_a, false).ids, b;
  if (pair) b = tokenizer.encode(example.text_b, false).ids;
  const int64_t specials = pair ? (double_sep ? 4 : 3) : 2;
  MASKLM_CHECK(max_length >= specials + (pair ? 2 : 1), "max_length {} leaves no room for the text", max_length);
  while (static_cast<int64_t>(a.size() + b.size()) > max_length - specials) (a.size() >= b.size() ? a : b).pop_back();

  EncodedExample out;
  auto append = [&](int32_t id, int32_t segment) {
    out.ids.push_back(id);
    out.types.push_back(segment);
  };
  append(special.cls, 0);
  for (int32_t id : a) append(id, 0);
  append(special.sep, 0);
  if (pair) {
    if (double_sep) append(special.sep, 0);
    for (int32_t id : b) append(id, 1);
    append(special.sep, 1);
  }
  if (type_vocab_size == 0) out.types.clear();
  if (type_vocab_size == 1) std::fill(out.types.begin(), out.types.end(), 0);
  return out;
}

std::vector<EpochLog> finetune_train(Ctx& ctx, FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                     const std::vector<GlueExample>& gold, const FineTuneOptions& o) {
  MASKLM_CHECK(inputs.size() == gold.size(), "fine-tuning needs one label per input ({} inputs, {} labels)",
               inputs.size(), gold.size());
  ClassificationBatch batch;
  auto step = [&](std::span<const size_t> examples, const DropoutPlan& dropout, double loss_scale) {
    batch.clear();
    for (size_t j : examples)
      batch.add(inputs[j].ids, inputs[j].types, model.is_regression() ? 0 : gold[j].label, gold[j].score);
    model.zero_grads(ctx);
    const double loss = model.forward(ctx, batch, dropout).loss;
    model.backward(ctx, dropout, loss_scale);
    return loss;
  };
  return run_finetune_epochs(ctx, model, inputs.size(), o, step);
}

GluePredictions finetune_predict(Ctx& ctx, FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                 int64_t batch_size) {
  ClassificationBatch batch;
  GluePredictions out;
  const int64_t n = static_cast<int64_t>(inputs.size());
  for (int64_t start = 0; start < n; start += batch_size) {
    batch.clear();
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i)
      batch.add(inputs[static_cast<size_t>(i)].ids, inputs[static_cast<size_t>(i)].types, 0, 0.0);
    model.forward(ctx, batch, DropoutPlan{});
    if (model.is_regression()) {
      const std::vector<double> s = model.predicted_scores();
      out.scores.insert(out.scores.end(), s.begin(), s.end());
    } else {
      const std::vector<int32_t> l = model.predicted_labels();
      out.labels.insert(out.labels.end(), l.begin(), l.end());
    }
  }
  return out;
}

const GlueTask& glue_finetune_task(std::string_view task) {
  if (task.rfind("glue/", 0) == 0) task.remove_prefix(5);
  return glue_task(task);
}

GlueFineTuneResult run_glue_finetune(const GlueFineTuneJob& job) {
  DeviceContext device(job.device);  // before the work: a missing GPU is the first error
  device.require_compute_dtype(job.options.precision);
  const GlueTask& task = glue_finetune_task(job.task);
  const fs::path dir = fs::is_regular_file(job.data / task.train_file) ? job.data : job.data / task.directory;
  MASKLM_CHECK(fs::is_regular_file(dir / task.train_file) && fs::is_regular_file(dir / task.dev_file),
               "--data {}: no {} and {} there or in {}/", job.data.string(), task.train_file, task.dev_file,
               (job.data / task.directory).string());
  // QQP's train file has malformed rows that Hugging Face's reader skips too; dev must be whole.
  const GlueFile train = read_glue_tsv(dir / task.train_file, task.labelled, GlueReadOptions{true});
  if (train.skipped > 0) log_warn("skipped {} malformed training rows (first: {})", train.skipped, train.first_skip);
  const GlueFile dev = read_glue_tsv(dir / task.dev_file, task.labelled);

  const FineTuneStart start = load_finetune_start(job.checkpoint, job.tokenizer);
  const ModelConfig& config = start.config;
  const Tokenizer& tokenizer = *start.tokenizer;

  FineTuneOptions o = job.options;
  o.max_length = std::min(o.max_length, config.max_position_embeddings);
  const std::vector<EncodedExample> train_inputs =
      encode_all(tokenizer, train.examples, o.max_length, config.type_vocab_size);
  const std::vector<EncodedExample> dev_inputs =
      encode_all(tokenizer, dev.examples, o.max_length, config.type_vocab_size);

  FineTuneModel model(config, task.num_labels(), o.batch_size * o.max_length, o.batch_size,
                      o.precision, job.device);
  model.init_weights(o.seed);
  model.load_encoder(start.checkpoint);
  model.reserve_device_memory(device.ctx());
  GlueFineTuneResult result;
  result.epochs = finetune_train(device.ctx(), model, train_inputs, train.examples, o);
  const GluePredictions predictions = finetune_predict(device.ctx(), model, dev_inputs, o.batch_size);
  result.dev_scores = score_glue(task, dev.examples, predictions);

  fs::create_directories(job.out);
  // Scores last: their file marks a finished run, which fine-tuning grids skip on a rerun.
  write_predictions(job.out / (task.name + ".dev.predictions.txt"), task, predictions);
  MetricScores scores;
  for (const auto& [metric, value] : result.dev_scores) scores.emplace_back(glue_metric_name(metric), value);
  write_task_scores(job.out / "finetune.json", task.name, scores);
  return result;
}

}  // namespace masklm
