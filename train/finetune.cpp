#include "train/finetune.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <numeric>
#include <random>

#include "model/hf_config.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/log.h"
#include "train/checkpoint.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

template <typename T> T parse_setting(std::string_view key, std::string_view value) {
  T out{};
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  MASKLM_CHECK(ec == std::errc() && end == value.data() + value.size(), "--set {}={}: not a valid number", key,
               value);
  return out;
}

// Adds the task's scores to OUT/finetune.json, keeping other tasks' entries.
void write_scores(const fs::path& path, const GlueTask& task, const std::vector<std::pair<GlueMetric, double>>& scores) {
  nlohmann::json root = nlohmann::json::object();
  if (fs::exists(path)) {
    std::ifstream in(path);
    root = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    MASKLM_CHECK(root.is_object(), "{}: not a JSON object; move it away or pick another --out", path.string());
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [metric, value] : scores) metrics[std::string(glue_metric_name(metric))] = value;
  root[task.name] = metrics;
  write_file_atomic(path, root.dump(2) + "\n");
}

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

void apply_finetune_setting(FineTuneOptions& o, std::string_view key_value) {
  const size_t eq = key_value.find('=');
  MASKLM_CHECK(eq != std::string_view::npos, "--set '{}': expected key=value", key_value);
  const std::string_view key = key_value.substr(0, eq), value = key_value.substr(eq + 1);
  if (key == "lr") o.lr = parse_setting<double>(key, value);
  else if (key == "batch_size") o.batch_size = parse_setting<int64_t>(key, value);
  else if (key == "epochs") o.epochs = parse_setting<int64_t>(key, value);
  else if (key == "warmup_fraction") o.warmup_fraction = parse_setting<double>(key, value);
  else if (key == "weight_decay") o.weight_decay = parse_setting<double>(key, value);
  else if (key == "clip_norm") o.clip_norm = parse_setting<double>(key, value);
  else if (key == "max_length") o.max_length = parse_setting<int64_t>(key, value);
  else if (key == "seed") o.seed = parse_setting<uint64_t>(key, value);
  else
    MASKLM_FAIL("--set {}: unknown setting (known: lr, batch_size, epochs, warmup_fraction, weight_decay, "
                "clip_norm, max_length, seed)",
                key);
  MASKLM_CHECK(o.lr > 0 && o.batch_size > 0 && o.epochs > 0 && o.max_length > 0, "--set {}: must be positive", key);
  MASKLM_CHECK(o.warmup_fraction >= 0 && o.warmup_fraction <= 1, "--set {}: warmup_fraction must be in [0, 1]", key);
}

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

std::vector<EpochLog> finetune_train(FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                     const std::vector<GlueExample>& gold, const FineTuneOptions& o) {
  MASKLM_CHECK(!inputs.empty() && inputs.size() == gold.size(), "fine-tuning needs examples ({} inputs, {} labels)",
               inputs.size(), gold.size());
  const int64_t n = static_cast<int64_t>(inputs.size());
  const int64_t steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  LrSchedule schedule;
  schedule.peak_lr = o.lr;
  schedule.total_steps = o.epochs * steps_per_epoch;
  schedule.warmup_steps = std::llround(o.warmup_fraction * static_cast<double>(schedule.total_steps));
  AdamWConfig adam;
  adam.weight_decay = o.weight_decay;
  adam.clip_norm = o.clip_norm;
  AdamW optimizer(model.params(), model.grads(), adam);

  Ctx ctx;
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  ClassificationBatch batch;
  std::vector<EpochLog> log;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (int64_t start = 0; start < n; start += o.batch_size) {
      batch.clear();
      for (int64_t i = start; i < std::min(n, start + o.batch_size); ++i) {
        const size_t j = order[static_cast<size_t>(i)];
        batch.add(inputs[j].ids, inputs[j].types, model.is_regression() ? 0 : gold[j].label, gold[j].score);
      }
      const DropoutPlan dropout{RngKey{o.seed, static_cast<uint32_t>(step), 0}, true};
      model.zero_grads(ctx);
      loss_sum += model.forward(ctx, batch, dropout).loss;
      model.backward(ctx, dropout);
      optimizer.step(ctx, schedule.at(step));
      ++step;
    }
    log.push_back({epoch + 1, loss_sum / static_cast<double>(steps_per_epoch)});
  }
  return log;
}

GluePredictions finetune_predict(FineTuneModel& model, const std::vector<EncodedExample>& inputs,
                                 int64_t batch_size) {
  Ctx ctx;
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

GlueFineTuneResult run_glue_finetune(const GlueFineTuneJob& job) {
  std::string_view name = job.task;
  if (name.rfind("glue/", 0) == 0) name.remove_prefix(5);
  const GlueTask& task = glue_task(name);
  const fs::path dir = fs::is_regular_file(job.data / task.train_file) ? job.data : job.data / task.directory;
  MASKLM_CHECK(fs::is_regular_file(dir / task.train_file) && fs::is_regular_file(dir / task.dev_file),
               "--data {}: no {} and {} there or in {}/", job.data.string(), task.train_file, task.dev_file,
               (job.data / task.directory).string());
  // QQP's train file has malformed rows that Hugging Face's reader skips too; dev must be whole.
  const GlueFile train = read_glue_tsv(dir / task.train_file, task.labelled, GlueReadOptions{true});
  if (train.skipped > 0) log_warn("skipped {} malformed training rows (first: {})", train.skipped, train.first_skip);
  const GlueFile dev = read_glue_tsv(dir / task.dev_file, task.labelled);

  const fs::path checkpoint = fs::absolute(job.checkpoint).lexically_normal();
  const std::optional<fs::path> tokenizer_path =
      job.tokenizer.empty() ? find_run_tokenizer(checkpoint) : std::optional<fs::path>(job.tokenizer);
  MASKLM_CHECK(tokenizer_path.has_value(),
               "no tokenizer.json in {}, its run directory or its dataset manifest (pass --tokenizer FILE)",
               checkpoint.string());
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(*tokenizer_path);
  const ModelConfig config = read_hf_config(checkpoint / "config.json");
  MASKLM_CHECK(tokenizer->vocab_size() <= config.vocab_size, "tokenizer {} has {} tokens, the model only {}",
               tokenizer_path->string(), tokenizer->vocab_size(), config.vocab_size);

  FineTuneOptions o = job.options;
  o.max_length = std::min(o.max_length, config.max_position_embeddings);
  const std::vector<EncodedExample> train_inputs =
      encode_all(*tokenizer, train.examples, o.max_length, config.type_vocab_size);
  const std::vector<EncodedExample> dev_inputs =
      encode_all(*tokenizer, dev.examples, o.max_length, config.type_vocab_size);

  FineTuneModel model(config, task.num_labels(), o.batch_size * o.max_length, o.batch_size);
  model.init_weights(o.seed);
  model.load_encoder(checkpoint);
  GlueFineTuneResult result;
  result.epochs = finetune_train(model, train_inputs, train.examples, o);
  const GluePredictions predictions = finetune_predict(model, dev_inputs, o.batch_size);
  result.dev_scores = score_glue(task, dev.examples, predictions);

  fs::create_directories(job.out);
  write_scores(job.out / "finetune.json", task, result.dev_scores);
  write_predictions(job.out / (task.name + ".dev.predictions.txt"), task, predictions);
  return result;
}

}  // namespace masklm
