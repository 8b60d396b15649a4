#include "masking/masking_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <utility>
#include <vector>

#include "runtime/config_reader.h"
#include "runtime/error.h"

namespace masklm {

namespace {

using nlohmann::json;

// Splits may be written with a few decimals (0.8/0.1/0.1 is not exact in binary).
constexpr double kSplitSumTolerance = 1e-6;

template <typename E> E read_choice(ConfigReader& r, const std::string& key, E fallback,
                                    const std::vector<std::pair<const char*, E>>& choices) {
  if (!r.has(key)) return fallback;
  const std::string name = r.get<std::string>(key, "");
  std::vector<const char*> names;
  for (const auto& [n, value] : choices) {
    if (name == n) return value;
    names.push_back(n);
  }
  MASKLM_FAIL("config key '{}' must be one of {}, got '{}'", r.key_path(key),
              fmt::join(names, ", "), name);
}

double read_probability(ConfigReader& r, const std::string& key, double fallback) {
  const double v = r.get<double>(key, fallback);
  MASKLM_CHECK(0 <= v && v <= 1, "config key '{}' must be in [0, 1], got {}", r.key_path(key), v);
  return v;
}

// A rate is a number, or a mapping {schedule: constant|linear|cosine, start, end}.
RateSchedule read_rate(ConfigReader& r, const std::string& key) {
  const std::string path = r.key_path(key);
  const json& node = r.section(key);
  if (node.is_number()) {
    const double v = node.get<double>();
    MASKLM_CHECK(0 <= v && v <= 1, "config key '{}' must be in [0, 1], got {}", path, v);
    return RateSchedule::constant(v);
  }
  MASKLM_CHECK(node.is_object(),
               "config key '{}' must be a rate in [0, 1] or a mapping "
               "{{schedule, start, end}}, got {}",
               path, node.dump());
  ConfigReader s(node, path);
  RateSchedule rate;
  rate.kind = read_choice(s, "schedule", ScheduleKind::CONSTANT,
                          {{"constant", ScheduleKind::CONSTANT},
                           {"linear", ScheduleKind::LINEAR},
                           {"cosine", ScheduleKind::COSINE}});
  MASKLM_CHECK(s.has("start"), "config key '{}' is required", s.key_path("start"));
  rate.start = read_probability(s, "start", 0);
  if (rate.kind == ScheduleKind::CONSTANT) {
    MASKLM_CHECK(!s.has("end"), "config key '{}': a constant schedule has no end",
                 s.key_path("end"));
    rate.end = rate.start;
  } else {
    MASKLM_CHECK(s.has("end"), "config key '{}' is required", s.key_path("end"));
    rate.end = read_probability(s, "end", 0);
  }
  s.finish();
  return rate;
}

// Shares of a split: each in [0, 1], absent ones 0, summing to 1.
std::vector<double> read_split(ConfigReader& r, const std::string& key,
                               const std::vector<const char*>& names) {
  ConfigReader s(r.section(key), r.key_path(key));
  std::vector<double> shares;
  double sum = 0;
  for (const char* name : names) {
    shares.push_back(read_probability(s, name, 0));
    sum += shares.back();
  }
  s.finish();
  MASKLM_CHECK(std::abs(sum - 1) <= kSplitSumTolerance,
               "config key '{}': the shares of {} must sum to 1, got {}", r.key_path(key),
               fmt::join(names, ", "), sum);
  return shares;
}

void read_rates(ConfigReader& r, const std::string& path, MaskingConfig& cfg) {
  const bool decoupled = r.has("corrupt_rate") || r.has("predict_rate") || r.has("corrupt_split");
  const bool bert = r.has("mask_rate") || r.has("mask_split");
  MASKLM_CHECK(!(decoupled && bert),
               "config section '{}' mixes the decoupled form (corrupt_rate, predict_rate, "
               "corrupt_split) with the BERT form (mask_rate, mask_split); use one",
               path);
  if (decoupled) {
    MASKLM_CHECK(r.has("corrupt_rate") || r.has("predict_rate"),
                 "config key '{}' or '{}' is required", r.key_path("corrupt_rate"),
                 r.key_path("predict_rate"));
    // One rate alone means m_corr = m_pred.
    if (r.has("corrupt_rate")) cfg.corrupt_rate = read_rate(r, "corrupt_rate");
    cfg.predict_rate = r.has("predict_rate") ? read_rate(r, "predict_rate") : cfg.corrupt_rate;
    if (!r.has("corrupt_rate")) cfg.corrupt_rate = cfg.predict_rate;
    cfg.random_share =
        r.has("corrupt_split") ? read_split(r, "corrupt_split", {"mask", "random"})[1] : 0.0;
  } else if (bert) {
    MASKLM_CHECK(r.has("mask_rate"), "config key '{}' is required", r.key_path("mask_rate"));
    const RateSchedule mask_rate = read_rate(r, "mask_rate");
    const std::vector<double> split = r.has("mask_split")
                                          ? read_split(r, "mask_split", {"mask", "random", "keep"})
                                          : std::vector{0.8, 0.1, 0.1};
    const double corrupted = split[0] + split[1];
    cfg.predict_rate = mask_rate;
    cfg.corrupt_rate = mask_rate.scaled(corrupted);
    cfg.random_share = corrupted > 0 ? split[1] / corrupted : 0.0;
  }
}

}  // namespace

const char* masking_strategy_name(MaskingStrategy s) {
  switch (s) {
    case MaskingStrategy::UNIFORM: return "uniform";
    case MaskingStrategy::WHOLE_WORD: return "whole_word";
    case MaskingStrategy::SPAN: return "span";
    case MaskingStrategy::PMI: return "pmi";
  }
  return "?";
}

MaskRates rates_at(const MaskingConfig& config, int64_t step, int64_t total_steps) {
  return {config.corrupt_rate.at(step, total_steps), config.predict_rate.at(step, total_steps)};
}

MaskingConfig masking_config_from_json(const nlohmann::json& node, const std::string& path) {
  ConfigReader r(node, path);
  MaskingConfig cfg;
  std::vector<std::pair<const char*, MaskingStrategy>> strategies;
  for (auto s : {MaskingStrategy::UNIFORM, MaskingStrategy::WHOLE_WORD, MaskingStrategy::SPAN,
                 MaskingStrategy::PMI})
    strategies.emplace_back(masking_strategy_name(s), s);
  cfg.strategy = read_choice(r, "strategy", cfg.strategy, strategies);
  read_rates(r, path, cfg);
  cfg.replacement = read_choice(r, "replacement", cfg.replacement,
                                {{"uniform", ReplacementDistribution::UNIFORM},
                                 {"frequency", ReplacementDistribution::FREQUENCY}});

  MASKLM_CHECK(!r.has("span") || cfg.strategy == MaskingStrategy::SPAN,
               "config key '{}' is only used with strategy span", r.key_path("span"));
  if (cfg.strategy == MaskingStrategy::SPAN) {
    ConfigReader s(r.section("span"), r.key_path("span"));
    cfg.span.p = s.get<double>("p", cfg.span.p);
    MASKLM_CHECK(0 < cfg.span.p && cfg.span.p <= 1, "config key '{}' must be in (0, 1], got {}",
                 s.key_path("p"), cfg.span.p);
    cfg.span.max_len = s.get<int32_t>("max_len", cfg.span.max_len);
    MASKLM_CHECK(cfg.span.max_len >= 1, "config key '{}' must be at least 1, got {}",
                 s.key_path("max_len"), cfg.span.max_len);
    cfg.span.whole_words = s.get<bool>("whole_words", cfg.span.whole_words);
    s.finish();
  }
  MASKLM_CHECK(!r.has("pmi_vocab") || cfg.strategy == MaskingStrategy::PMI,
               "config key '{}' is only used with strategy pmi", r.key_path("pmi_vocab"));
  if (cfg.strategy == MaskingStrategy::PMI) cfg.pmi_vocab = r.require<std::string>("pmi_vocab");
  r.finish();
  return cfg;
}

}  // namespace masklm
