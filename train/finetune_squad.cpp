#include "train/finetune_squad.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

#include "kernels/device_context.h"
#include "runtime/config_reader.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/log.h"
#include "train/finetune_loop.h"
#include "train/finetune_scores.h"
#include "train/finetune_start.h"

namespace masklm {

namespace fs = std::filesystem;

namespace {

struct SquadTaskFiles {
  std::string name;  // the finetune.json key, "squad_v1.1"
  SquadVersion version;
  fs::path train, dev;
};

SquadTaskFiles squad_task_files(std::string_view task, const fs::path& data) {
  const std::string name = squad_task_name(task);
  const std::string version(task.substr(task.find('/') + 1));
  SquadTaskFiles files{name, version == "v1.1" ? SquadVersion::V1_1 : SquadVersion::V2_0,
                       data / fmt::format("train-{}.json", version),
                       data / fmt::format("dev-{}.json", version)};
  for (const fs::path& f : {files.train, files.dev})
    MASKLM_CHECK(fs::is_regular_file(f), "--data {}: no {} there", data.string(),
                 f.filename().string());
  return files;
}

// The file with its version checked against the task's; errors name the file.
SquadDataset read_squad_for(const fs::path& path, SquadVersion version) {
  SquadDataset dataset = read_squad(path);
  MASKLM_CHECK(dataset.version == version, "{} is SQuAD {}, not the task's {}", path.string(),
               dataset.version == SquadVersion::V1_1 ? "v1.1" : "v2.0",
               version == SquadVersion::V1_1 ? "v1.1" : "v2.0");
  return dataset;
}

std::vector<SquadFeature> features_for(const Tokenizer& tokenizer,
                                       const std::vector<SquadExample>& examples,
                                       const SquadFeatureOptions& options, bool with_targets,
                                       const fs::path& file) {
  try {
    return make_squad_features(tokenizer, examples, options, with_targets);
  } catch (const Error& e) {
    MASKLM_FAIL("{}: {}", file.string(), e.what());
  }
}

int64_t read_positive(ConfigReader& r, const std::string& key, int64_t fallback) {
  const int64_t value = r.get(key, fallback);
  MASKLM_CHECK(value > 0, "config key '{}' must be positive, got {}", key, value);
  return value;
}

MetricScores score_names(const SquadResult& r, SquadVersion version) {
  MetricScores out{{"exact", r.all.exact}, {"f1", r.all.f1}};
  if (version == SquadVersion::V2_0) {
    // The official script leaves out a breakdown with no questions.
    for (const auto& [prefix, part] :
         {std::pair{"HasAns", r.has_answer}, std::pair{"NoAns", r.no_answer}})
      if (part.total > 0) {
        out.emplace_back(fmt::format("{}_exact", prefix), part.exact);
        out.emplace_back(fmt::format("{}_f1", prefix), part.f1);
      }
  }
  return out;
}

}  // namespace

SquadFineTuneOptions parse_squad_options(const nlohmann::json& settings) {
  ConfigReader r(settings, "");
  SquadFineTuneOptions o;
  o.train = read_finetune_options(r, o.train);
  SquadFeatureOptions& f = o.features;
  SquadPostprocessOptions& p = o.postprocess;
  f.max_length = o.train.max_length;
  f.doc_stride = read_positive(r, "doc_stride", f.doc_stride);
  f.max_query_length = read_positive(r, "max_query_length", f.max_query_length);
  p.n_best = read_positive(r, "n_best", p.n_best);
  p.max_answer_length = read_positive(r, "max_answer_length", p.max_answer_length);
  p.null_threshold = r.get("null_threshold", p.null_threshold);
  r.finish();
  return o;
}

nlohmann::json squad_options_to_json(const SquadFineTuneOptions& o) {
  nlohmann::json settings = finetune_options_to_json(o.train);
  settings["doc_stride"] = o.features.doc_stride;
  settings["max_query_length"] = o.features.max_query_length;
  settings["n_best"] = o.postprocess.n_best;
  settings["max_answer_length"] = o.postprocess.max_answer_length;
  settings["null_threshold"] = o.postprocess.null_threshold;
  return settings;
}

bool is_squad_task(std::string_view task) { return task == "squad/v1.1" || task == "squad/v2.0"; }

std::string squad_task_name(std::string_view task) {
  MASKLM_CHECK(is_squad_task(task), "unknown SQuAD task '{}' (known: squad/v1.1, squad/v2.0)",
               task);
  return "squad_" + std::string(task.substr(task.find('/') + 1));
}

std::vector<EpochLog> squad_train(Ctx& ctx, SpanExtractionModel& model,
                                  const std::vector<SquadFeature>& features,
                                  const FineTuneOptions& options) {
  SpanBatch batch;
  auto step = [&](std::span<const size_t> windows, const DropoutPlan& dropout, double loss_scale) {
    batch.clear();
    for (size_t w : windows)
      batch.add(features[w].ids, features[w].types, features[w].start, features[w].end);
    model.zero_grads(ctx);
    const double loss = model.forward(ctx, batch, dropout);
    model.backward(ctx, dropout, loss_scale);
    return loss;
  };
  return run_finetune_epochs(ctx, model, features.size(), options, step);
}

std::vector<SpanLogits> squad_logits(Ctx& ctx, SpanExtractionModel& model,
                                     const std::vector<SquadFeature>& features,
                                     int64_t batch_size) {
  SpanBatch batch;
  std::vector<SpanLogits> out;
  out.reserve(features.size());
  for (size_t begin = 0; begin < features.size(); begin += static_cast<size_t>(batch_size)) {
    batch.clear();
    for (size_t w = begin; w < std::min(features.size(), begin + static_cast<size_t>(batch_size));
         ++w)
      batch.add(features[w].ids, features[w].types, 0, 0);
    model.forward(ctx, batch, DropoutPlan{});
    for (SpanLogits& l : model.span_logits()) out.push_back(std::move(l));
  }
  return out;
}

SquadFineTuneResult run_squad_finetune(const SquadFineTuneJob& job) {
  DeviceContext device(job.device);  // before the work: a missing GPU is the first error
  device.require_compute_dtype(job.options.train.precision);
  const SquadTaskFiles files = squad_task_files(job.task, job.data);
  const SquadDataset train = read_squad_for(files.train, files.version);
  const SquadDataset dev = read_squad_for(files.dev, files.version);
  const FineTuneStart start = load_finetune_start(job.checkpoint, job.tokenizer);

  SquadFeatureOptions feature_options = job.options.features;
  feature_options.max_length =
      std::min(feature_options.max_length, start.config.max_position_embeddings);
  feature_options.type_vocab_size = start.config.type_vocab_size;
  const std::vector<SquadExample> train_examples = squad_examples(train),
                                  dev_examples = squad_examples(dev);
  const std::vector<SquadFeature> train_features =
      features_for(*start.tokenizer, train_examples, feature_options, true, files.train);
  const std::vector<SquadFeature> dev_features =
      features_for(*start.tokenizer, dev_examples, feature_options, false, files.dev);
  log_info("{}: {} questions in {} windows for training, {} in {} windows on dev", files.name,
           train_examples.size(), train_features.size(), dev_examples.size(), dev_features.size());

  const FineTuneOptions& o = job.options.train;
  SpanExtractionModel model(start.config, o.batch_size * feature_options.max_length, o.batch_size,
                            o.precision, job.device);
  model.init_weights(o.seed);
  model.load_encoder(start.checkpoint);
  model.reserve_device_memory(device.ctx());
  SquadFineTuneResult result;
  result.train_features = static_cast<int64_t>(train_features.size());
  result.dev_features = static_cast<int64_t>(dev_features.size());
  result.epochs = squad_train(device.ctx(), model, train_features, o);
  const SquadPredictions predictions = postprocess_squad(
      dev_examples, dev_features, squad_logits(device.ctx(), model, dev_features, o.batch_size),
      files.version, job.options.postprocess);
  result.dev_scores = score_names(score_squad(dev, predictions), files.version);

  fs::create_directories(job.out);
  // Scores last: their file marks a finished run (train/finetune_grid.h).
  write_file_atomic(job.out / (files.name + ".dev.predictions.json"),
                    nlohmann::json(predictions).dump(2) + "\n");
  write_task_scores(job.out / "finetune.json", files.name, result.dev_scores);
  return result;
}

}  // namespace masklm
