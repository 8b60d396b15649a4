#include "model/hf_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;

using nlohmann::json;

void expect_config_error(const json& j, std::initializer_list<std::string_view> parts) {
  SCOPED_TRACE(j.dump());
  expect_error([&] { hf_config_from_json(j, "test/config.json"); }, parts);
}

ModelConfig odd_config(bool pre_layernorm) {
  ModelConfig c = model_preset("tiny", 1234);
  c.pre_layernorm = pre_layernorm;
  c.max_position_embeddings = 130;
  c.type_vocab_size = 1;
  c.hidden_dropout = 0.05;
  c.attention_dropout = 0.0;
  c.layer_norm_eps = 1e-5;
  c.initializer_range = 0.01;
  c.pad_token_id = 3;
  return c;
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.type_vocab_size, b.type_vocab_size);
  EXPECT_EQ(a.pre_layernorm, b.pre_layernorm);
  EXPECT_EQ(a.hidden_dropout, b.hidden_dropout);
  EXPECT_EQ(a.attention_dropout, b.attention_dropout);
  EXPECT_EQ(a.layer_norm_eps, b.layer_norm_eps);
  EXPECT_EQ(a.initializer_range, b.initializer_range);
  EXPECT_EQ(a.pad_token_id, b.pad_token_id);
}

TEST(HfConfig, PostLnIsBertWithHfFieldNames) {
  const json j = hf_config_to_json(odd_config(false));
  const json expected = {
      {"architectures", {"BertForMaskedLM"}},
      {"model_type", "bert"},
      {"vocab_size", 1234},
      {"hidden_size", 128},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 2},
      {"intermediate_size", 512},
      {"max_position_embeddings", 130},
      {"type_vocab_size", 1},
      {"hidden_act", "gelu"},
      {"hidden_dropout_prob", 0.05},
      {"attention_probs_dropout_prob", 0.0},
      {"layer_norm_eps", 1e-5},
      {"initializer_range", 0.01},
      {"pad_token_id", 3},
      {"tie_word_embeddings", true},
      {"position_embedding_type", "absolute"},
  };
  EXPECT_EQ(j, expected) << j.dump(2);
}

TEST(HfConfig, PreLnIsRobertaPreLayerNorm) {
  const json j = hf_config_to_json(odd_config(true));
  EXPECT_EQ(j["model_type"], "roberta-prelayernorm");
  EXPECT_EQ(j["architectures"], json::array({"RobertaPreLayerNormForMaskedLM"}));
}

TEST(HfConfig, RoundTripsThroughJsonAndFile) {
  for (bool pre_ln : {false, true}) {
    const ModelConfig c = odd_config(pre_ln);
    expect_same(hf_config_from_json(hf_config_to_json(c)), c);

    const auto path = std::filesystem::temp_directory_path() /
                      ("masklm_test_hf_config_" + std::to_string(::getpid()) + ".json");
    write_hf_config(path, c);
    expect_same(read_hf_config(path), c);
    std::filesystem::remove(path);
  }
}

TEST(HfConfig, AbsentOptionalFieldsTakeTransformersDefaults) {
  const json minimal = {{"model_type", "roberta-prelayernorm"}, {"vocab_size", 50265},
                        {"hidden_size", 64},  {"num_hidden_layers", 1},
                        {"num_attention_heads", 4}, {"intermediate_size", 256},
                        {"max_position_embeddings", 514}};
  const ModelConfig c = hf_config_from_json(minimal);
  EXPECT_TRUE(c.pre_layernorm);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.hidden_dropout, 0.1);
  EXPECT_EQ(c.attention_dropout, 0.1);
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.initializer_range, 0.02);
  EXPECT_EQ(c.pad_token_id, 1);  // RobertaPreLayerNormConfig's default; BERT's is 0

  json bert = minimal;
  bert["model_type"] = "bert";
  bert["pad_token_id"] = nullptr;  // null counts as absent
  EXPECT_EQ(hf_config_from_json(bert).pad_token_id, 0);
}

TEST(HfConfig, RejectsWhatMasklmDoesNotCompute) {
  const json base = hf_config_to_json(odd_config(false));
  const auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return j;
  };
  expect_config_error(with("model_type", "gpt2"), {"test/config.json", "unsupported model_type 'gpt2'"});
  expect_config_error(with("model_type", "roberta"), {"unsupported model_type 'roberta'"});
  expect_config_error(with("hidden_act", "gelu_new"), {"unsupported hidden_act 'gelu_new'"});
  expect_config_error(with("position_embedding_type", "relative_key"), {"position_embedding_type 'relative_key'"});
  expect_config_error(with("tie_word_embeddings", false), {"tie_word_embeddings is false"});
}

TEST(HfConfig, RejectsMissingMistypedAndInvalidFields) {
  const json base = hf_config_to_json(odd_config(true));
  for (const char* required : {"model_type", "vocab_size", "hidden_size", "num_hidden_layers",
                               "num_attention_heads", "intermediate_size", "max_position_embeddings"}) {
    json j = base;
    j.erase(required);
    expect_config_error(j, {"test/config.json", std::string("missing required field '") + required + "'"});
  }
  json text_size = base;
  text_size["hidden_size"] = "128";
  expect_config_error(text_size, {"field 'hidden_size' has the wrong type"});
  json fractional_layers = base;
  fractional_layers["num_hidden_layers"] = 2.5;
  expect_config_error(fractional_layers, {"field 'num_hidden_layers' has the wrong type"});
  json indivisible = base;
  indivisible["num_attention_heads"] = 3;
  expect_config_error(indivisible, {"test/config.json", "num_heads (3) must divide"});
  expect_config_error(json::array(), {"expected a JSON object"});
}

TEST(HfConfig, FileErrorsNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto missing = dir / "masklm_no_such_config.json";
  expect_error([&] { read_hf_config(missing); }, {"cannot open", missing.string()});
  const auto broken = dir / ("masklm_test_broken_config_" + std::to_string(::getpid()) + ".json");
  std::ofstream(broken) << "{\"model_type\": ";
  expect_error([&] { read_hf_config(broken); }, {broken.string() + ": bad JSON"});
  std::filesystem::remove(broken);
}

}  // namespace
}  // namespace masklm
