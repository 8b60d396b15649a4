#include "train/finetune_options.h"

#include "runtime/config_reader.h"
#include "train/config_file.h"
#include "train/run_config.h"

namespace masklm {

FineTuneOptions parse_finetune_options(const nlohmann::json& settings) {
  ConfigReader r(settings, "");
  const FineTuneOptions o = read_finetune_options(r, FineTuneOptions{});
  r.finish();
  return o;
}

FineTuneOptions read_finetune_options(ConfigReader& r, FineTuneOptions o) {
  o.lr = r.get("lr", o.lr);
  o.batch_size = r.get("batch_size", o.batch_size);
  o.epochs = r.get("epochs", o.epochs);
  o.warmup_fraction = r.get("warmup_fraction", o.warmup_fraction);
  o.weight_decay = r.get("weight_decay", o.weight_decay);
  o.clip_norm = r.get("clip_norm", o.clip_norm);
  o.max_length = r.get("max_length", o.max_length);
  const int64_t seed = r.get("seed", static_cast<int64_t>(o.seed));
  MASKLM_CHECK(seed >= 0, "config key 'seed' must not be negative, got {}", seed);
  o.seed = static_cast<uint64_t>(seed);
  const std::string precision =
      r.get<std::string>("precision", std::string(precision_name(o.precision)));
  try {
    o.precision = precision_from_name(precision);
  } catch (const Error& e) {
    MASKLM_FAIL("config key 'precision': {}", e.what());
  }
  MASKLM_CHECK(o.lr > 0, "config key 'lr' must be positive, got {}", o.lr);
  MASKLM_CHECK(o.batch_size > 0, "config key 'batch_size' must be positive, got {}", o.batch_size);
  MASKLM_CHECK(o.epochs > 0, "config key 'epochs' must be positive, got {}", o.epochs);
  MASKLM_CHECK(o.warmup_fraction >= 0 && o.warmup_fraction <= 1,
               "config key 'warmup_fraction' must be in [0, 1], got {}", o.warmup_fraction);
  MASKLM_CHECK(o.weight_decay >= 0, "config key 'weight_decay' must not be negative, got {}",
               o.weight_decay);
  MASKLM_CHECK(o.clip_norm >= 0,
               "config key 'clip_norm' must not be negative (0: no clipping), got {}", o.clip_norm);
  MASKLM_CHECK(o.max_length > 0, "config key 'max_length' must be positive, got {}", o.max_length);
  return o;
}

nlohmann::json finetune_options_to_json(const FineTuneOptions& o) {
  return {{"lr", o.lr},
          {"batch_size", o.batch_size},
          {"epochs", o.epochs},
          {"warmup_fraction", o.warmup_fraction},
          {"weight_decay", o.weight_decay},
          {"clip_norm", o.clip_norm},
          {"max_length", o.max_length},
          {"seed", o.seed},
          {"precision", std::string(precision_name(o.precision))}};
}

nlohmann::json finetune_settings(const std::vector<std::string>& assignments) {
  nlohmann::json tree = nlohmann::json::object();
  for (const std::string& a : assignments) apply_override(tree, a);
  return tree;
}

}  // namespace masklm
