#include "train/training_data.h"

#include <cmath>

#include "runtime/config_reader.h"
#include "runtime/log.h"
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
  return data;
}

}  // namespace

TrainingData open_training_data(const RunConfig& config) {
  const auto source = ConfigReader(config.data, "data").require<std::string>("source");
  if (source == "synthetic") return open_synthetic(config);
  MASKLM_FAIL("config key 'data.source': unknown source '{}' (known: synthetic)", source);
}

}  // namespace masklm
