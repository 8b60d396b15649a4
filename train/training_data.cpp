#include "train/training_data.h"

#include <cmath>

#include "data/dataset_manifest.h"
#include "data/packed_dataset.h"
#include "data/tokenizer.h"
#include "masking/vocab_info.h"
#include "runtime/config_reader.h"
#include "runtime/log.h"
#include "train/mlm_batch_source.h"
#include "train/synthetic_source.h"

namespace masklm {

namespace {

TrainingData open_synthetic(const RunConfig& config) {
  ConfigReader r(config.data, "data");
  r.require<std::string>("source");
  const TrainConfig& t = config.train;
  SyntheticTask task;
  task.vocab_size = r.get("vocab_size", task.vocab_size);
  MASKLM_CHECK(task.vocab_size >= 3, "config key 'data.vocab_size' must be at least 3, got {}",
               task.vocab_size);
  task.period = r.get("period", task.period);
  MASKLM_CHECK(task.period >= 1, "config key 'data.period' must be positive, got {}", task.period);
  task.mask_rate = r.get("mask_rate", task.mask_rate);
  MASKLM_CHECK(task.mask_rate > 0 && task.mask_rate < 1,
               "config key 'data.mask_rate' must be in (0, 1), got {}", task.mask_rate);
  task.seed = static_cast<uint64_t>(r.get("seed", static_cast<int64_t>(t.seed)));
  r.finish();
  task.seq_len = t.seq_len;
  task.sequences = t.batch_size;
  if (!config.masking.is_null())
    log_warn(
        "the synthetic source masks by itself at data.mask_rate = {}; the masking section is not "
        "used",
        task.mask_rate);

  log_info(
      "synthetic task: V = {}, period {}; a model that ignores context cannot go below ln({}) = "
      "{:.3f} nats",
      task.vocab_size, task.period, task.vocab_size - 1,
      std::log(static_cast<double>(task.vocab_size - 1)));

  SyntheticTask validation = task;
  validation.seed = t.eval_seed;
  validation.mask_rate = t.eval_mask_rate;
  validation.sequences = t.micro_batch_size;
  TrainingData data;
  data.train = std::make_unique<SyntheticSource>(task, t.micro_batch_size);
  data.validation = std::make_unique<SyntheticSource>(validation, t.micro_batch_size);
  data.vocab_size = task.vocab_size;
  data.mask_token_id = SyntheticTask::kMaskToken;
  return data;
}

// The tokenizer the shards were made with: data.tokenizer, else DIR/tokenizer.json (written
// by `masklm prepare --train-tokenizer`), else the one the manifest records.
std::filesystem::path shard_tokenizer_path(ConfigReader& r, const std::filesystem::path& dir) {
  if (r.has("tokenizer")) return r.require<std::string>("tokenizer");
  if (std::filesystem::exists(dir / "tokenizer.json")) return dir / "tokenizer.json";
  return DatasetManifest::read(dir).tokenizer;
}

// The same masking for every run, so validation numbers compare across training rates.
MaskingConfig evaluation_masking(double rate) {
  return masking_config_from_json({{"strategy", "uniform"},
                                   {"mask_rate", rate},
                                   {"mask_split", {{"mask", 0.8}, {"random", 0.1}, {"keep", 0.1}}}},
                                  "train.eval_mask_rate");
}

TrainingData open_shards(const RunConfig& config) {
  ConfigReader r(config.data, "data");
  r.require<std::string>("source");
  const std::filesystem::path dir = r.require<std::string>("dir");
  const std::filesystem::path tokenizer_path = shard_tokenizer_path(r, dir);
  r.finish();
  const TrainConfig& t = config.train;
  const auto tokenizer = Tokenizer::load(tokenizer_path);
  const VocabInfo vocab = vocab_info_from_tokenizer(*tokenizer);

  const MaskingConfig masking = masking_config_from_json(config.masking, "masking");
  PmiVocabulary pmi;
  if (masking.strategy == MaskingStrategy::PMI) pmi = PmiVocabulary::load(masking.pmi_vocab);
  auto train_masker = std::make_shared<const Masker>(masking, vocab, std::move(pmi));
  const MaskingConfig eval_masking = evaluation_masking(t.eval_mask_rate);
  auto eval_masker = std::make_shared<const Masker>(eval_masking, vocab);

  auto train_split = std::make_shared<const PackedDataset>(
      PackedDataset::open(dir, "train", *tokenizer, t.seq_len));
  auto val_split =
      std::make_shared<const PackedDataset>(PackedDataset::open(dir, "val", *tokenizer, t.seq_len));
  MASKLM_CHECK(train_split->num_sequences() >= t.batch_size,
               "config key 'data.dir': '{}' holds {} training sequences of {} tokens, fewer than "
               "one batch ({})",
               dir.string(), train_split->num_sequences(), t.seq_len, t.batch_size);
  MASKLM_CHECK(val_split->num_sequences() > 0,
               "config key 'data.dir': '{}' holds no validation sequence of {} tokens (prepare "
               "it with a larger --val-fraction)",
               dir.string(), t.seq_len);

  MlmSourceOptions train_options;
  train_options.micro_batch_size = t.micro_batch_size;
  train_options.micro_steps = t.accumulation_steps();
  train_options.total_steps = t.steps;
  train_options.seed = t.seed;
  MlmSourceOptions val_options;
  val_options.micro_batch_size = t.micro_batch_size;
  val_options.seed = t.eval_seed;
  val_options.fixed_rates = rates_at(eval_masking, 0, 1);

  TrainingData data;
  data.train = std::make_unique<MlmBatchSource>(train_split, train_masker, train_options);
  data.validation = std::make_unique<MlmBatchSource>(val_split, eval_masker, val_options);
  data.vocab_size = tokenizer->vocab_size();
  data.mask_token_id = vocab.mask_id;
  log_info("shards {}: {} training and {} validation sequences of {} tokens, vocabulary {} ({})",
           dir.string(), train_split->num_sequences(), val_split->num_sequences(), t.seq_len,
           data.vocab_size, tokenizer_path.string());
  return data;
}

}  // namespace

TrainingData open_training_data(const RunConfig& config) {
  const auto source = ConfigReader(config.data, "data").require<std::string>("source");
  if (source == "synthetic") return open_synthetic(config);
  if (source == "shards") return open_shards(config);
  MASKLM_FAIL("config key 'data.source': unknown source '{}' (known: synthetic, shards)", source);
}

}  // namespace masklm
