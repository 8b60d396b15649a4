#include "train/run_config.h"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

#include "runtime/config_reader.h"

namespace masklm {

namespace {

using nlohmann::json;

int64_t positive(ConfigReader& r, const std::string& key, int64_t fallback) {
  const int64_t v = r.get(key, fallback);
  MASKLM_CHECK(v > 0, "config key '{}' must be positive, got {}", r.key_path(key), v);
  return v;
}

int64_t non_negative(ConfigReader& r, const std::string& key, int64_t fallback) {
  const int64_t v = r.get(key, fallback);
  MASKLM_CHECK(v >= 0, "config key '{}' must be >= 0, got {}", r.key_path(key), v);
  return v;
}

double in_range(ConfigReader& r, const std::string& key, double fallback, double lo, double hi,
                bool hi_open) {
  const double v = r.get(key, fallback);
  MASKLM_CHECK(v >= lo && (hi_open ? v < hi : v <= hi),
               "config key '{}' must be in [{}, {}{}, got {}", r.key_path(key), lo, hi,
               hi_open ? ")" : "]", v);
  return v;
}

ModelConfig parse_model(const json& node) {
  ConfigReader r(node, "model");
  ModelConfig m;
  if (r.has("preset")) {
    const std::string preset = r.require<std::string>("preset");
    const auto names = model_preset_names();
    MASKLM_CHECK(std::find(names.begin(), names.end(), preset) != names.end(),
                 "config key 'model.preset': unknown preset '{}' (known: {})", preset,
                 fmt::join(names, ", "));
    m = model_preset(preset, 0);
  } else {
    // Without a preset the shape is spelled out, never silently BERT-base.
    m.num_layers = r.require<int64_t>("num_layers");
    m.hidden_size = r.require<int64_t>("hidden_size");
    m.num_heads = r.require<int64_t>("num_heads");
    m.intermediate_size = r.require<int64_t>("intermediate_size");
  }
  m.vocab_size = r.get("vocab_size", int64_t{0});
  m.num_layers = r.get("num_layers", m.num_layers);
  m.hidden_size = r.get("hidden_size", m.hidden_size);
  m.num_heads = r.get("num_heads", m.num_heads);
  m.intermediate_size = r.get("intermediate_size", m.intermediate_size);
  m.max_position_embeddings = r.get("max_position_embeddings", m.max_position_embeddings);
  m.type_vocab_size = r.get("type_vocab_size", m.type_vocab_size);
  m.pre_layernorm = r.get("pre_layernorm", m.pre_layernorm);
  m.hidden_dropout = r.get("hidden_dropout", m.hidden_dropout);
  m.attention_dropout = r.get("attention_dropout", m.attention_dropout);
  m.layer_norm_eps = r.get("layer_norm_eps", m.layer_norm_eps);
  m.initializer_range = r.get("initializer_range", m.initializer_range);
  m.pad_token_id = r.get("pad_token_id", m.pad_token_id);
  // The skip-corrupted variant: model.encoder.skip_corrupted, model.decoder.layers. Runs
  // written before 2026-12-07 spelled them model.skip_corrupted and model.decoder_layers.
  for (const auto& [old_key, new_key] : {std::pair{"skip_corrupted", "encoder.skip_corrupted"},
                                         std::pair{"decoder_layers", "decoder.layers"}})
    MASKLM_CHECK(!r.has(old_key),
                 "config key 'model.{}' is now 'model.{}': rename it (in a run directory, in "
                 "its config.yaml)",
                 old_key, new_key);
  ConfigReader encoder(r.section("encoder"), "model.encoder");
  m.skip_corrupted = encoder.get("skip_corrupted", m.skip_corrupted);
  encoder.finish();
  ConfigReader decoder(r.section("decoder"), "model.decoder");
  m.decoder_layers = decoder.get("layers", m.decoder_layers);
  decoder.finish();
  m.mask_token_id = r.get("mask_token_id", m.mask_token_id);
  r.finish();
  MASKLM_CHECK(m.vocab_size >= 0, "config key 'model.vocab_size' must be positive, got {}",
               m.vocab_size);
  // The vocabulary may still come from the data source; validate the rest meanwhile.
  ModelConfig check = m;
  if (check.vocab_size == 0) check.vocab_size = std::max(check.pad_token_id, check.mask_token_id) + 1;
  if (check.skip_corrupted && check.mask_token_id < 0) check.mask_token_id = 0;  // comes from the data
  check.validate();
  return m;
}

LrSchedule parse_lr(const json& node, int64_t steps, std::optional<double>& warmup_fraction) {
  ConfigReader r(node, "train.lr");
  LrSchedule lr;
  lr.total_steps = steps;
  lr.peak_lr = r.get("peak", lr.peak_lr);
  MASKLM_CHECK(lr.peak_lr > 0 && std::isfinite(lr.peak_lr),
               "config key 'train.lr.peak' must be positive, got {}", lr.peak_lr);
  MASKLM_CHECK(
      !(r.has("warmup_steps") && r.has("warmup_fraction")),
      "config keys 'train.lr.warmup_steps' and 'train.lr.warmup_fraction' exclude each other");
  if (r.has("warmup_fraction")) {
    warmup_fraction = in_range(r, "warmup_fraction", 0.0, 0.0, 1.0, false);
    lr.warmup_steps = std::llround(*warmup_fraction * static_cast<double>(steps));
  } else {
    lr.warmup_steps = non_negative(r, "warmup_steps", 0);
  }
  MASKLM_CHECK(lr.warmup_steps <= steps,
               "config key 'train.lr.warmup_steps' ({}) exceeds train.steps ({})", lr.warmup_steps,
               steps);
  const std::string decay = r.get<std::string>("decay", lr_decay_name(lr.decay));
  try {
    lr.decay = lr_decay_from_name(decay);
  } catch (const Error& e) {
    MASKLM_FAIL("config key 'train.lr.decay': {}", e.what());
  }
  lr.final_lr_fraction = in_range(r, "final_fraction", lr.final_lr_fraction, 0.0, 1.0, false);
  lr.power = r.get("power", lr.power);
  MASKLM_CHECK(lr.power > 0, "config key 'train.lr.power' must be positive, got {}", lr.power);
  r.finish();
  return lr;
}

AdamWConfig parse_optimizer(const json& node) {
  ConfigReader r(node, "train.optimizer");
  AdamWConfig o;
  o.beta1 = in_range(r, "beta1", o.beta1, 0.0, 1.0, true);
  o.beta2 = in_range(r, "beta2", o.beta2, 0.0, 1.0, true);
  o.eps = r.get("eps", o.eps);
  MASKLM_CHECK(o.eps > 0, "config key 'train.optimizer.eps' must be positive, got {}", o.eps);
  o.weight_decay = r.get("weight_decay", o.weight_decay);
  MASKLM_CHECK(o.weight_decay >= 0,
               "config key 'train.optimizer.weight_decay' must be >= 0, got {}", o.weight_decay);
  o.clip_norm = r.get("clip_norm", o.clip_norm);
  MASKLM_CHECK(o.clip_norm >= 0,
               "config key 'train.optimizer.clip_norm' must be >= 0 (0: no clipping), got {}",
               o.clip_norm);
  r.finish();
  return o;
}

TrainConfig parse_train(const json& node) {
  ConfigReader r(node, "train");
  TrainConfig t;
  t.steps = positive(r, "steps", t.steps);
  t.batch_size = positive(r, "batch_size", t.batch_size);
  t.micro_batch_size = positive(r, "micro_batch_size", t.batch_size);
  MASKLM_CHECK(
      t.batch_size % t.micro_batch_size == 0,
      "config key 'train.batch_size' ({}) must be a multiple of 'train.micro_batch_size' ({})",
      t.batch_size, t.micro_batch_size);
  t.seq_len = positive(r, "seq_len", t.seq_len);
  MASKLM_CHECK(t.seq_len >= 2, "config key 'train.seq_len' must be at least 2, got {}", t.seq_len);
  t.seed = static_cast<uint64_t>(non_negative(r, "seed", 0));
  t.lr = parse_lr(r.section("lr"), t.steps, t.warmup_fraction);
  t.optimizer = parse_optimizer(r.section("optimizer"));
  t.log_every = positive(r, "log_every", t.log_every);
  t.eval_every = non_negative(r, "eval_every", t.eval_every);
  t.eval_batches = positive(r, "eval_batches", t.eval_batches);
  t.eval_mask_rate = in_range(r, "eval_mask_rate", t.eval_mask_rate, 0.0, 1.0, true);
  MASKLM_CHECK(t.eval_mask_rate > 0, "config key 'train.eval_mask_rate' must be in (0, 1), got 0");
  t.eval_seed =
      static_cast<uint64_t>(non_negative(r, "eval_seed", static_cast<int64_t>(t.eval_seed)));
  t.checkpoint_every = non_negative(r, "checkpoint_every", t.checkpoint_every);
  t.keep_last = positive(r, "keep_last", t.keep_last);
  t.max_bad_steps = positive(r, "max_bad_steps", t.max_bad_steps);
  t.zero = r.get("zero", t.zero);
  MASKLM_CHECK(t.zero == 0 || t.zero == 1,
               "config key 'train.zero' must be 0 (replicated optimizer state) or 1 (ZeRO-1: "
               "sharded across ranks), got {}",
               t.zero);
  t.overlap_comm = r.get("overlap_comm", t.overlap_comm);
  t.bucket_mib = r.get("bucket_mib", t.bucket_mib);
  // At most 1 TiB: the trainer rounds it to a byte count in an int64_t (inf or 1e300 would
  // overflow that conversion).
  MASKLM_CHECK(t.bucket_mib > 0 && t.bucket_mib <= double(1 << 20),
               "config key 'train.bucket_mib' must be positive and at most 1048576 (1 TiB), got {}",
               t.bucket_mib);
  try {
    t.precision = precision_from_name(r.get<std::string>("precision", "fp32"));
  } catch (const Error& e) {
    MASKLM_FAIL("config key 'train.precision': {}", e.what());
  }
  try {
    t.attention = attention_kernel_from_name(r.get<std::string>("attention", "auto"));
  } catch (const Error& e) {
    MASKLM_FAIL("config key 'train.attention': {}", e.what());
  }
  MASKLM_CHECK(!attention_needs_16bit_gpu(t.attention) || t.precision != DType::F32,
               "config key 'train.attention': the {} kernel computes in 16 bits; set "
               "train.precision bf16 or fp16, or train.attention auto or reference",
               attention_kernel_name(t.attention));
  r.finish();
  return t;
}

}  // namespace

DType precision_from_name(std::string_view name) {
  for (DType d : {DType::F32, DType::BF16, DType::F16})
    if (name == precision_name(d)) return d;
  MASKLM_FAIL("unknown precision '{}' (known: fp32, bf16, fp16)", name);
}

AttentionKernel attention_kernel_from_name(std::string_view name) {
  for (AttentionKernel k : {AttentionKernel::AUTO, AttentionKernel::FUSED,
                            AttentionKernel::CUDNN, AttentionKernel::REFERENCE})
    if (name == attention_kernel_name(k)) return k;
  MASKLM_FAIL("unknown attention kernel '{}' (known: auto, fused, cudnn, reference)", name);
}

bool attention_needs_16bit_gpu(AttentionKernel kernel) {
  return kernel == AttentionKernel::FUSED || kernel == AttentionKernel::CUDNN;
}

std::string_view attention_kernel_name(AttentionKernel kernel) {
  switch (kernel) {
    case AttentionKernel::AUTO: return "auto";
    case AttentionKernel::FUSED: return "fused";
    case AttentionKernel::CUDNN: return "cudnn";
    case AttentionKernel::REFERENCE: return "reference";
  }
  return "auto";
}

std::string_view precision_name(DType precision) {
  switch (precision) {
    case DType::F32: return "fp32";
    case DType::BF16: return "bf16";
    case DType::F16: return "fp16";
    default: MASKLM_FAIL("{} is not a training precision", dtype_name(precision));
  }
}

RunConfig parse_run_config(const json& root) {
  ConfigReader r(root, "");
  RunConfig c;
  c.model = parse_model(r.section("model"));
  c.train = parse_train(r.section("train"));
  c.data = r.section("data");
  MASKLM_CHECK(c.data.is_object() && c.data.contains("source"),
               "config key 'data.source' is required (e.g. data: {{source: synthetic}})");
  c.masking = r.section("masking");
  r.finish();
  MASKLM_CHECK(c.train.seq_len <= c.model.max_position_embeddings,
               "config key 'train.seq_len' ({}) exceeds model.max_position_embeddings ({})",
               c.train.seq_len, c.model.max_position_embeddings);
  return c;
}

json run_config_to_json(const RunConfig& c) {
  const ModelConfig& m = c.model;
  json model = {
      {"num_layers", m.num_layers},
      {"hidden_size", m.hidden_size},
      {"num_heads", m.num_heads},
      {"intermediate_size", m.intermediate_size},
      {"max_position_embeddings", m.max_position_embeddings},
      {"type_vocab_size", m.type_vocab_size},
      {"pre_layernorm", m.pre_layernorm},
      {"hidden_dropout", m.hidden_dropout},
      {"attention_dropout", m.attention_dropout},
      {"layer_norm_eps", m.layer_norm_eps},
      {"initializer_range", m.initializer_range},
      {"pad_token_id", m.pad_token_id},
  };
  if (m.skip_corrupted) {
    model["encoder"] = {{"skip_corrupted", true}};
    model["decoder"] = {{"layers", m.decoder_layers}};
    if (m.mask_token_id >= 0) model["mask_token_id"] = m.mask_token_id;
  }
  if (m.vocab_size > 0) model["vocab_size"] = m.vocab_size;
  const TrainConfig& t = c.train;
  json train = {
      {"steps", t.steps},
      {"batch_size", t.batch_size},
      {"micro_batch_size", t.micro_batch_size},
      {"seq_len", t.seq_len},
      {"seed", t.seed},
      {"lr",
       {{"peak", t.lr.peak_lr},
        {"decay", lr_decay_name(t.lr.decay)},
        {"final_fraction", t.lr.final_lr_fraction},
        {"power", t.lr.power}}},
      {"optimizer",
       {{"beta1", t.optimizer.beta1},
        {"beta2", t.optimizer.beta2},
        {"eps", t.optimizer.eps},
        {"weight_decay", t.optimizer.weight_decay},
        {"clip_norm", t.optimizer.clip_norm}}},
      {"log_every", t.log_every},
      {"eval_every", t.eval_every},
      {"eval_batches", t.eval_batches},
      {"eval_mask_rate", t.eval_mask_rate},
      {"eval_seed", t.eval_seed},
      {"checkpoint_every", t.checkpoint_every},
      {"keep_last", t.keep_last},
      {"zero", t.zero},
      {"overlap_comm", t.overlap_comm},
      {"bucket_mib", t.bucket_mib},
      {"max_bad_steps", t.max_bad_steps},
      {"precision", precision_name(t.precision)},
      {"attention", attention_kernel_name(t.attention)},
  };
  if (t.warmup_fraction)
    train["lr"]["warmup_fraction"] = *t.warmup_fraction;
  else
    train["lr"]["warmup_steps"] = t.lr.warmup_steps;
  json out = {{"model", model}, {"train", train}, {"data", c.data}};
  if (!c.masking.is_null()) out["masking"] = c.masking;
  return out;
}

void resolve_vocab_size(RunConfig& config, int64_t data_vocab_size, int64_t mask_token_id) {
  MASKLM_CHECK(data_vocab_size > 0, "the data source reports vocabulary size {}", data_vocab_size);
  MASKLM_CHECK(config.model.vocab_size == 0 || config.model.vocab_size == data_vocab_size,
               "config key 'model.vocab_size' ({}) differs from the data's vocabulary size ({})",
               config.model.vocab_size, data_vocab_size);
  config.model.vocab_size = data_vocab_size;
  if (config.model.skip_corrupted && config.model.mask_token_id < 0) config.model.mask_token_id = mask_token_id;
  config.model.validate();
}

}  // namespace masklm
