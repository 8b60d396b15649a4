// Masking configuration: both rate forms, the BERT shorthand mapping, schedules computed
// by hand, and every rejected configuration naming its key.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "masking/masking_config.h"

namespace masklm {
namespace {

using testing::expect_error;

MaskingConfig parse(const std::string& json_text) {
  return masking_config_from_json(nlohmann::json::parse(json_text), "masking");
}

TEST(MaskingConfig, DefaultsToBert15PercentEightyTenTen) {
  const MaskingConfig c = masking_config_from_json(nullptr, "masking");
  EXPECT_EQ(c.strategy, MaskingStrategy::UNIFORM);
  const MaskRates r = rates_at(c, 0, 0);
  EXPECT_DOUBLE_EQ(r.predict, 0.15);
  EXPECT_DOUBLE_EQ(r.corrupt, 0.135);
  EXPECT_DOUBLE_EQ(c.random_share, 1.0 / 9);
}

TEST(MaskingConfig, BertShorthandMapsOntoDecoupledRates) {
  // mask_rate r, split (m, x, k): m_pred = r, m_corr = r·(m + x), random share x/(m + x).
  const MaskingConfig mask_only = parse(R"({"mask_rate": 0.4, "mask_split": {"mask": 1.0}})");
  EXPECT_DOUBLE_EQ(rates_at(mask_only, 0, 0).corrupt, 0.4);
  EXPECT_DOUBLE_EQ(rates_at(mask_only, 0, 0).predict, 0.4);
  EXPECT_DOUBLE_EQ(mask_only.random_share, 0);
  const MaskingConfig c =
      parse(R"({"mask_rate": 0.2, "mask_split": {"mask": 0.5, "random": 0.3, "keep": 0.2}})");
  EXPECT_DOUBLE_EQ(rates_at(c, 0, 0).predict, 0.2);
  EXPECT_DOUBLE_EQ(rates_at(c, 0, 0).corrupt, 0.16);
  EXPECT_DOUBLE_EQ(c.random_share, 0.375);
  const MaskingConfig keep_only = parse(R"({"mask_rate": 0.2, "mask_split": {"keep": 1}})");
  EXPECT_DOUBLE_EQ(rates_at(keep_only, 0, 0).corrupt, 0);
  EXPECT_DOUBLE_EQ(keep_only.random_share, 0);
}

TEST(MaskingConfig, DecoupledForm) {
  const MaskingConfig c = parse(
      R"({"strategy": "span", "corrupt_rate": 0.4, "predict_rate": 0.15, "corrupt_split": {"mask": 0.75,
                "random": 0.25}, "replacement": "frequency", "span": {"p": 0.3, "max_len": 6, "whole_words": false}})");
  EXPECT_EQ(c.strategy, MaskingStrategy::SPAN);
  EXPECT_DOUBLE_EQ(rates_at(c, 5, 10).corrupt, 0.4);
  EXPECT_DOUBLE_EQ(rates_at(c, 5, 10).predict, 0.15);
  EXPECT_DOUBLE_EQ(c.random_share, 0.25);
  EXPECT_EQ(c.replacement, ReplacementDistribution::FREQUENCY);
  EXPECT_DOUBLE_EQ(c.span.p, 0.3);
  EXPECT_EQ(c.span.max_len, 6);
  EXPECT_FALSE(c.span.whole_words);
  // One rate alone sets both; no split means [MASK] only.
  const MaskingConfig one = parse(R"({"predict_rate": 0.3})");
  EXPECT_DOUBLE_EQ(rates_at(one, 0, 0).corrupt, 0.3);
  EXPECT_DOUBLE_EQ(one.random_share, 0);
  const MaskingConfig pmi =
      parse(R"({"strategy": "pmi", "corrupt_rate": 0.15, "pmi_vocab": "pmi.txt"})");
  EXPECT_EQ(pmi.pmi_vocab, "pmi.txt");
}

TEST(MaskingConfig, SchedulesMatchHandComputedValues) {
  const MaskingConfig c =
      parse(R"({"corrupt_rate": {"schedule": "linear", "start": 0.4, "end": 0.15},
                                    "predict_rate": {"schedule": "cosine", "start": 0.4, "end": 0.15}})");
  // linear: 0.4 + (0.15 - 0.4)·t;  cosine: 0.15 + 0.25·(1 + cos(πt))/2, held after the end.
  EXPECT_DOUBLE_EQ(rates_at(c, 0, 1000).corrupt, 0.4);
  EXPECT_DOUBLE_EQ(rates_at(c, 250, 1000).corrupt, 0.3375);
  EXPECT_DOUBLE_EQ(rates_at(c, 1000, 1000).corrupt, 0.15);
  EXPECT_DOUBLE_EQ(rates_at(c, 5000, 1000).corrupt, 0.15);
  EXPECT_DOUBLE_EQ(rates_at(c, 0, 1000).predict, 0.4);
  EXPECT_NEAR(rates_at(c, 250, 1000).predict, 0.3633883476483184,
              1e-15);  // 0.15 + 0.125·(1 + √2/2)
  EXPECT_NEAR(rates_at(c, 500, 1000).predict, 0.275, 1e-15);
  EXPECT_NEAR(rates_at(c, 1000, 1000).predict, 0.15, 1e-15);
  // A scheduled BERT rate scales the corruption rate at every step.
  const MaskingConfig bert =
      parse(R"({"mask_rate": {"schedule": "linear", "start": 0.3, "end": 0.1}})");
  EXPECT_DOUBLE_EQ(rates_at(bert, 500, 1000).predict, 0.2);
  EXPECT_DOUBLE_EQ(rates_at(bert, 500, 1000).corrupt, 0.18);
  EXPECT_DOUBLE_EQ(parse(R"({"mask_rate": {"start": 0.3}})").predict_rate.at(123, 0), 0.3);
  expect_error([&] { rates_at(c, 10, 0); }, "total steps");
}

TEST(MaskingConfig, RejectsInvalidConfigurationsNamingTheKey) {
  expect_error([] { parse(R"({"mask_rate": 1.5})"); }, {"masking.mask_rate", "[0, 1]"});
  expect_error([] { parse(R"({"corrupt_rate": -0.1})"); }, {"masking.corrupt_rate", "[0, 1]"});
  expect_error([] { parse(R"({"corrupt_rate": {"schedule": "linear", "start": 0.2, "end": 2}})"); },
               {"masking.corrupt_rate.end", "[0, 1]"});
  expect_error([] { parse(R"({"mask_rate": 0.15, "mask_split": {"mask": 0.8, "random": 0.1}})"); },
               {"masking.mask_split", "sum to 1"});
  expect_error(
      [] {
        parse(R"({"mask_rate": 0.15, "mask_split": {"mask": 0.8, "random": 0.1, "keep": 0.2}})");
      },
      {"masking.mask_split", "sum to 1"});
  expect_error(
      [] { parse(R"({"corrupt_rate": 0.15, "corrupt_split": {"mask": 0.5, "random": 0.6}})"); },
      {"masking.corrupt_split", "sum to 1"});
  expect_error(
      [] { parse(R"({"corrupt_rate": 0.15, "corrupt_split": {"mask": 1.5, "random": -0.5}})"); },
      {"masking.corrupt_split.mask", "[0, 1]"});
  expect_error([] { parse(R"({"mask_rate": 0.15, "predict_rate": 0.15})"); },
               {"masking", "mixes", "use one"});
  expect_error([] { parse(R"({"mask_split": {"mask": 1}})"); }, {"masking.mask_rate", "required"});
  expect_error([] { parse(R"({"corrupt_split": {"mask": 1}})"); },
               {"masking.corrupt_rate", "required"});
  expect_error([] { parse(R"({"mask_rate": 0.15, "mask_prob": 0.8})"); },
               "unknown config key 'masking.mask_prob'");
  expect_error([] { parse(R"({"mask_rate": 0.15, "mask_split": {"mask": 1, "same": 0}})"); },
               "unknown config key 'masking.mask_split.same'");
  expect_error([] { parse(R"({"strategy": "wholeword"})"); },
               {"masking.strategy", "whole_word", "wholeword"});
  expect_error([] { parse(R"({"replacement": "zipf"})"); }, {"masking.replacement", "frequency"});
  expect_error([] { parse(R"({"mask_rate": {"schedule": "step", "start": 0.1, "end": 0.2}})"); },
               {"masking.mask_rate.schedule", "cosine"});
  expect_error([] { parse(R"({"mask_rate": {"schedule": "linear", "start": 0.1}})"); },
               {"masking.mask_rate.end", "required"});
  expect_error([] { parse(R"({"mask_rate": {"end": 0.1}})"); },
               {"masking.mask_rate.start", "required"});
  expect_error([] { parse(R"({"mask_rate": {"start": 0.1, "end": 0.2}})"); },
               {"masking.mask_rate.end", "constant schedule"});
  expect_error([] { parse(R"({"mask_rate": "15%"})"); }, {"masking.mask_rate", "rate in [0, 1]"});
  expect_error([] { parse(R"({"span": {"p": 0.2}})"); }, {"masking.span", "strategy span"});
  expect_error([] { parse(R"({"strategy": "span", "span": {"p": 0}})"); },
               {"masking.span.p", "(0, 1]"});
  expect_error([] { parse(R"({"strategy": "span", "span": {"max_len": 0}})"); },
               "masking.span.max_len");
  expect_error([] { parse(R"({"strategy": "span", "span": {"mean": 3}})"); }, "masking.span.mean");
  expect_error([] { parse(R"({"strategy": "pmi"})"); }, {"masking.pmi_vocab", "required"});
  expect_error([] { parse(R"({"pmi_vocab": "x"})"); }, {"masking.pmi_vocab", "strategy pmi"});
}

}  // namespace
}  // namespace masklm
