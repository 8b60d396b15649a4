// Run configuration: YAML typing, --set overrides, the YAML written back, strict parsing of
// every section (errors name the key), the recipes in configs/ (the paper's in detail).
#include <gtest/gtest.h>

#include <filesystem>

#include "expect_error.h"
#include "masking/masking_config.h"
#include "train/config_file.h"
#include "train/run_config.h"
#include "train/training_data.h"

namespace masklm {
namespace {

using nlohmann::json;
using testing::expect_error;

const std::filesystem::path kConfigs = std::filesystem::path(MASKLM_SOURCE_DIR) / "configs";

TEST(YamlConfig, ScalarsAreTypedByTheCoreSchema) {
  const json j = yaml_to_json(R"(
int: 4096
negative: -3
float: 0.5
exp: 2e-3
exp_dot: 1.0e-6
yes_bool: true
no_bool: False
nothing: ~
empty:
word: linear
quoted_number: "128"
single_quoted: 'true'
not_a_number: .inf
list: [1, 2.5, x]
nested: {a: {b: 1}}
)");
  EXPECT_EQ(j["int"], json(4096));
  EXPECT_TRUE(j["int"].is_number_integer());
  EXPECT_EQ(j["negative"], json(-3));
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["exp"].get<double>(), 2e-3);
  EXPECT_DOUBLE_EQ(j["exp_dot"].get<double>(), 1e-6);
  EXPECT_EQ(j["yes_bool"], json(true));
  EXPECT_EQ(j["no_bool"], json(false));
  EXPECT_TRUE(j["nothing"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["word"], json("linear"));
  EXPECT_EQ(j["quoted_number"], json("128"));
  EXPECT_EQ(j["single_quoted"], json("true"));
  EXPECT_EQ(j["not_a_number"], json(".inf"));
  EXPECT_EQ(j["list"], json::parse(R"([1, 2.5, "x"])"));
  EXPECT_EQ(j["nested"]["a"]["b"], json(1));
}

TEST(YamlConfig, MalformedYamlAndDuplicateKeysNameTheLine) {
  expect_error([] { yaml_to_json("a: [1, 2\nb: 3\n", "r.yaml"); },
               {"r.yaml", "invalid YAML", "line"});
  expect_error([] { yaml_to_json("train:\n  steps: 1\n  steps: 2\n", "r.yaml"); },
               {"r.yaml", "duplicate key 'train.steps'", "line 3"});
}

TEST(YamlConfig, OverridesAreTypedAndCreateSections) {
  json tree = yaml_to_json("train: {steps: 10}\n");
  apply_override(tree, "train.steps=20");
  apply_override(tree, "train.lr.peak=1e-3");
  apply_override(tree, "masking={strategy: uniform, mask_rate: 0.4}");
  apply_override(tree, "data.source=synthetic");
  apply_override(tree, "model.name=\"007\"");
  EXPECT_EQ(tree["train"]["steps"], json(20));
  EXPECT_DOUBLE_EQ(tree["train"]["lr"]["peak"].get<double>(), 1e-3);
  EXPECT_EQ(tree["masking"], json::parse(R"({"strategy": "uniform", "mask_rate": 0.4})"));
  EXPECT_EQ(tree["data"]["source"], json("synthetic"));
  EXPECT_EQ(tree["model"]["name"], json("007"));
  expect_error([&] { apply_override(tree, "train.steps"); }, "key.sub=value");
  expect_error([&] { apply_override(tree, "train..steps=1"); }, "empty component");
  expect_error([&] { apply_override(tree, "train.steps.x=1"); }, "'train.steps' is not a mapping");
}

TEST(YamlConfig, WrittenYamlReadsBackToTheSameTree) {
  const json tree = json::parse(R"({
    "strings": ["true", "123", "1e-3", "", "~", "null", "plain words", "a: b", "- x", "#hash"],
    "doubles": [0.1, 1e-12, 3.0, -2.5e-7, 123456789.0, 2e-3],
    "ints": [0, -1, 9007199254740993],
    "flags": [true, false], "nothing": null, "nested": {"k": {"deep": [1, {"x": "y"}]}}
  })");
  const std::string yaml = json_to_yaml(tree);
  EXPECT_EQ(yaml_to_json(yaml), tree) << yaml;
}

json tiny_tree() { return load_yaml_file(kConfigs / "tiny.yaml"); }

TEST(RunConfig, ResolvedConfigParsesBackToItself) {
  const RunConfig c = parse_run_config(tiny_tree());
  const json resolved = run_config_to_json(c);
  EXPECT_FALSE(resolved["model"].contains("preset"));  // expanded
  EXPECT_EQ(c.train.lr.warmup_steps, 30);              // 10% of 300
  // The fraction stays a fraction, so --set train.steps=... on a resolved config rescales it.
  EXPECT_EQ(resolved["train"]["lr"]["warmup_fraction"], json(0.1));
  EXPECT_EQ(run_config_to_json(parse_run_config(resolved)), resolved);
  EXPECT_EQ(run_config_to_json(parse_run_config(yaml_to_json(json_to_yaml(resolved)))), resolved);
}

// Parses the tiny recipe with one override and expects an error naming `key` (plus `more`).
void expect_override_error(const std::string& assignment,
                           std::initializer_list<std::string_view> parts) {
  json tree = tiny_tree();
  apply_override(tree, assignment);
  expect_error([&] { parse_run_config(tree); }, parts);
}

TEST(RunConfig, UnknownKeysAreErrorsNamingThem) {
  expect_override_error("model.hiden_size=64", {"unknown config key 'model.hiden_size'"});
  expect_override_error("train.lr.peek=1", {"unknown config key 'train.lr.peek'"});
  expect_override_error("train.optimizer.beta3=1", {"unknown config key 'train.optimizer.beta3'"});
  expect_override_error("trian.steps=1", {"unknown config key 'trian'"});
}

TEST(RunConfig, WrongTypesAreErrorsNamingTheKey) {
  expect_override_error("train.steps=many", {"'train.steps'", "integer"});
  expect_override_error("train.steps=1.5", {"'train.steps'", "integer"});
  expect_override_error("model.pre_layernorm=1", {"'model.pre_layernorm'", "true or false"});
  expect_override_error("train.lr.peak=high", {"'train.lr.peak'", "number"});
  expect_override_error("train.lr=0.1", {"'train.lr'", "mapping"});
  expect_override_error("model.preset=7", {"'model.preset'", "string"});
}

TEST(RunConfig, ImpossibleValuesAreErrorsNamingTheKey) {
  expect_override_error("train.batch_size=20",
                        {"'train.batch_size' (20)", "multiple of 'train.micro_batch_size' (8)"});
  expect_override_error("train.seq_len=65",
                        {"'train.seq_len' (65)", "max_position_embeddings (64)"});
  expect_override_error("train.steps=0", {"'train.steps'", "positive"});
  expect_override_error("train.micro_batch_size=-8", {"'train.micro_batch_size'", "positive"});
  expect_override_error("train.lr.peak=0", {"'train.lr.peak'", "positive"});
  expect_override_error("train.lr.warmup_fraction=1.5", {"'train.lr.warmup_fraction'", "[0, 1]"});
  expect_override_error("train.lr.warmup_steps=5",
                        {"'train.lr.warmup_steps'", "'train.lr.warmup_fraction'"});
  expect_override_error("train.lr.decay=exponential", {"'train.lr.decay'", "polynomial"});
  expect_override_error("train.optimizer.beta2=1.0", {"'train.optimizer.beta2'", "[0, 1)"});
  expect_override_error("train.optimizer.clip_norm=-1", {"'train.optimizer.clip_norm'"});
  expect_override_error("train.keep_last=0", {"'train.keep_last'", "positive"});
  expect_override_error("train.bucket_mib=0", {"'train.bucket_mib'", "positive"});
  expect_override_error("train.bucket_mib=1e300", {"'train.bucket_mib'", "at most"});
  expect_override_error("train.eval_mask_rate=0", {"'train.eval_mask_rate'"});
  expect_override_error("model.preset=gigantic", {"'model.preset'", "gigantic", "tiny, mini"});
  expect_override_error("model.num_heads=3", {"model.num_heads (3)", "model.hidden_size (128)"});
  expect_override_error("model.hidden_dropout=1.0", {"model.hidden_dropout"});
  expect_override_error("data=null", {"'data.source' is required"});
}

// Issue 9's spelling: model.encoder.skip_corrupted and model.decoder.layers.
TEST(RunConfig, SkipCorruptedIsAnEncoderAndDecoderOption) {
  json tree = tiny_tree();
  apply_override(tree, "model.encoder.skip_corrupted=true");
  apply_override(tree, "model.decoder.layers=2");
  apply_override(tree, "model.mask_token_id=4");
  const RunConfig c = parse_run_config(tree);
  EXPECT_TRUE(c.model.skip_corrupted);
  EXPECT_EQ(c.model.decoder_layers, 2);
  EXPECT_EQ(c.model.mask_token_id, 4);
  const json resolved = run_config_to_json(c);
  EXPECT_EQ(resolved["model"]["encoder"], json({{"skip_corrupted", true}}));
  EXPECT_EQ(resolved["model"]["decoder"], json({{"layers", 2}}));
  EXPECT_EQ(run_config_to_json(parse_run_config(resolved)), resolved);

  expect_override_error("model.encoder.skip=true", {"unknown config key 'model.encoder.skip'"});
  expect_override_error("model.decoder.depth=1", {"unknown config key 'model.decoder.depth'"});
  expect_override_error("model.decoder.layers=1",
                        {"model.decoder.layers (1)", "model.encoder.skip_corrupted: true"});
  expect_override_error("model.decoder=2", {"'model.decoder'", "mapping"});
  expect_override_error("model.skip_corrupted=true",
                        {"'model.skip_corrupted' is now 'model.encoder.skip_corrupted'"});
  expect_override_error("model.decoder_layers=1", {"'model.decoder_layers' is now 'model.decoder.layers'"});
}

TEST(RunConfig, ExplicitShapeWithoutPresetNeedsEveryDimension) {
  json tree = tiny_tree();
  tree["model"] = yaml_to_json("{hidden_size: 64, num_heads: 2, intermediate_size: 128}");
  expect_error([&] { parse_run_config(tree); }, "'model.num_layers' is required");
  tree["model"]["num_layers"] = 3;
  const RunConfig c = parse_run_config(tree);
  EXPECT_EQ(c.model.num_layers, 3);
  EXPECT_EQ(c.model.hidden_size, 64);
  EXPECT_EQ(c.model.vocab_size, 0);  // from the data source
}

TEST(RunConfig, VocabularyComesFromTheDataAndMustAgree) {
  RunConfig c = parse_run_config(tiny_tree());
  resolve_vocab_size(c, 64);
  EXPECT_EQ(c.model.vocab_size, 64);
  expect_error([&] { resolve_vocab_size(c, 100); },
               {"'model.vocab_size' (64)", "vocabulary size (100)"});
}

TEST(RunConfig, MaskingSectionPassesThroughUntouched) {
  json tree = tiny_tree();
  apply_override(tree, "masking={strategy: span, anything: [1, 2], nested: {x: y}}");
  const RunConfig c = parse_run_config(tree);
  EXPECT_EQ(c.masking, tree["masking"]);
  EXPECT_EQ(run_config_to_json(c)["masking"], tree["masking"]);
}

TEST(TrainingData, SyntheticSourceIsStrictAndShapedByTrain) {
  RunConfig c = parse_run_config(tiny_tree());
  const TrainingData data = open_training_data(c);
  EXPECT_EQ(data.vocab_size, 64);
  const Batch b = data.train->batch(0, 1);
  EXPECT_EQ(b.num_sequences(), 8);  // micro_batch_size
  for (int64_t s = 0; s < b.num_sequences(); ++s)
    EXPECT_LE(b.cu_seqlens[static_cast<size_t>(s) + 1] - b.cu_seqlens[static_cast<size_t>(s)], 32);
  c.data["periodd"] = 3;
  expect_error([&] { open_training_data(c); }, "unknown config key 'data.periodd'");
  c.data = json{{"source", "parquet"}};
  expect_error([&] { open_training_data(c); }, {"'data.source'", "parquet"});
}

TEST(Recipes, EveryRecipeParsesWithItsMaskingSection) {
  int recipes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    RunConfig c;
    EXPECT_NO_THROW(c = parse_run_config(load_yaml_file(entry.path())));
    if (!c.masking.is_null()) {
      EXPECT_NO_THROW(masking_config_from_json(c.masking, "masking"));
    }
    ++recipes;
  }
  EXPECT_GE(recipes, 4);
}

TEST(Recipes, LargePaperIsThePapersRecipe) {
  const RunConfig c = parse_run_config(load_yaml_file(kConfigs / "large-paper.yaml"));
  // RoBERTa-large shape, pre-LN, dropout 0.1.
  EXPECT_EQ(c.model.num_layers, 24);
  EXPECT_EQ(c.model.hidden_size, 1024);
  EXPECT_EQ(c.model.num_heads, 16);
  EXPECT_EQ(c.model.intermediate_size, 4096);
  EXPECT_TRUE(c.model.pre_layernorm);
  EXPECT_DOUBLE_EQ(c.model.hidden_dropout, 0.1);
  EXPECT_DOUBLE_EQ(c.model.attention_dropout, 0.1);
  // Sequence 128, batch 4096, 23k steps, peak 2e-3, 6% warmup then linear decay.
  EXPECT_EQ(c.train.seq_len, 128);
  EXPECT_EQ(c.train.batch_size, 4096);
  EXPECT_EQ(c.train.steps, 23000);
  EXPECT_DOUBLE_EQ(c.train.lr.peak_lr, 2e-3);
  EXPECT_EQ(c.train.lr.warmup_steps, 1380);
  EXPECT_EQ(c.train.lr.decay, LrDecay::LINEAR);
  EXPECT_DOUBLE_EQ(c.train.lr.final_lr_fraction, 0.0);
  // AdamW (0.9, 0.98, eps 1e-6, wd 0.01), no clipping.
  EXPECT_DOUBLE_EQ(c.train.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.train.optimizer.beta2, 0.98);
  EXPECT_DOUBLE_EQ(c.train.optimizer.eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.train.optimizer.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(c.train.optimizer.clip_norm, 0.0);
  EXPECT_EQ(c.train.precision, DType::BF16);  // mixed precision, fp32 master weights
  // 40% uniform masking, [MASK] only, as the masking module reads it; evaluation at 15%.
  const MaskingConfig m = masking_config_from_json(c.masking, "masking");
  EXPECT_EQ(m.strategy, MaskingStrategy::UNIFORM);
  EXPECT_DOUBLE_EQ(m.predict_rate.at(0, c.train.steps), 0.4);
  EXPECT_DOUBLE_EQ(m.corrupt_rate.at(c.train.steps - 1, c.train.steps), 0.4);
  EXPECT_DOUBLE_EQ(m.random_share, 0.0);
  EXPECT_DOUBLE_EQ(c.train.eval_mask_rate, 0.15);
}

}  // namespace
}  // namespace masklm
