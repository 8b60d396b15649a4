// Hugging Face export and import (model/hf_checkpoint.h) against transformers itself:
//
//   tests/fixtures/export_masklm_<arch>/        written by this exporter from a tiny
//       deterministic model; transformers_logits.safetensors holds what transformers
//       computed after from_pretrained on that directory (make_export_fixtures.py);
//   tests/fixtures/export_transformers_<arch>/  saved by transformers' save_pretrained,
//       with the logits transformers computed before saving.
//
// transformers runs without position_ids or token_type_ids, as a user would, so the
// RoBERTa position offset and the default token types are part of what is checked.
// Regenerate: MASKLM_WRITE_EXPORT_FIXTURES=1 test_hf_export --gtest_filter='*Committed*',
// then python3 tests/fixtures/make_export_fixtures.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "data_test_support.h"
#include "expect_error.h"
#include "model/hf_checkpoint.h"
#include "gradcheck.h"
#include "model_fixture.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::expect_error;
using testing::read_doubles;
using testing::read_ids;

const fs::path kFixtures = MASKLM_FIXTURE_DIR;

ModelConfig tiny_config(bool pre_layernorm) {
  ModelConfig c;
  c.vocab_size = 67;
  c.hidden_size = 16;
  c.num_layers = 2;
  c.num_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 24;
  c.pad_token_id = 1;
  c.pre_layernorm = pre_layernorm;
  // Pre-LN without token types exercises the exporter's one-row zero type table.
  c.type_vocab_size = pre_layernorm ? 0 : 2;
  c.layer_norm_eps = pre_layernorm ? 1e-5 : 1e-12;
  return c;
}

// Every parameter (LayerNorms and biases too) gets a distinct value in [-0.25, 0.25] from
// an integer hash, so a misplaced tensor cannot hide behind an init of ones or zeros and
// the values are the same bits on every machine.
void fill_deterministic(const ParamLayout& layout) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (const ParamEntry& e : layout.table) {
    float* x = e.view.ptr<float>();
    for (int64_t i = 0; i < e.view.numel(); ++i) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      x[i] = static_cast<float>(static_cast<int64_t>(h >> 40) % 2001 - 1000) / 4000.0f;
    }
  }
}

std::string arch_name(bool pre_layernorm) {
  return pre_layernorm ? "roberta_prelayernorm" : "bert";
}

// The (P, V) logits of `model` on the batch recorded in `recorded`, in double.
std::vector<double> masklm_logits(MlmModel& model, const SafetensorsFile& recorded) {
  Batch b;
  b.tokens = read_ids(recorded, "input.tokens");
  b.cu_seqlens = read_ids(recorded, "input.cu_seqlens");
  for (size_t s = 0; s + 1 < b.cu_seqlens.size(); ++s)
    for (int32_t i = 0; i < b.cu_seqlens[s + 1] - b.cu_seqlens[s]; ++i) b.positions.push_back(i);
  b.predict_index = read_ids(recorded, "input.predict_index");
  b.labels.assign(b.predict_index.size(), 0);
  Ctx ctx;
  model.forward(ctx, b, {});
  const int64_t P = b.num_predictions(), V = model.config().vocab_size;
  std::vector<double> out(static_cast<size_t>(P * V));
  if (model.dtype() == DType::F64) {
    model.logits(ctx, host_tensor(out, {P, V}));
    return out;
  }
  std::vector<float> f(out.size());
  model.logits(ctx, host_tensor(f, {P, V}));
  return {f.begin(), f.end()};
}

double nmse(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double den = 0;
  for (double x : b) den += x * x;
  EXPECT_GT(den, 0);  // a vacuous all-zero comparison is a failure
  return masklm::testing::nmse(a.data(), b.data(), static_cast<int64_t>(std::min(a.size(), b.size())));
}

std::unique_ptr<MlmModel> import_model(const fs::path& dir, DType dtype) {
  auto model = std::make_unique<MlmModel>(read_hf_model_config(dir), Capacity{256, 64}, dtype);
  load_hf_weights(dir, model->params());
  return model;
}

std::unique_ptr<MlmModel> deterministic_model(bool pre_layernorm) {
  auto model = std::make_unique<MlmModel>(tiny_config(pre_layernorm), Capacity{256, 64});
  fill_deterministic(model->params());
  return model;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class HfExport : public testing::TempDirTest, public ::testing::WithParamInterface<bool> {};

TEST_P(HfExport, ReproducesCommittedFixture) {
  const bool pre = GetParam();
  const auto model = deterministic_model(pre);
  const fs::path committed = kFixtures / ("export_masklm_" + arch_name(pre));
  if (std::getenv("MASKLM_WRITE_EXPORT_FIXTURES")) {
    export_hf_model(committed, model->config(), model->params());
    GTEST_SKIP() << "wrote " << committed << "; compare in a run without MASKLM_WRITE_EXPORT_FIXTURES";
  }
  export_hf_model(dir_, model->config(), model->params());

  EXPECT_EQ(read_json(dir_ / "config.json"), read_json(committed / "config.json"));
  const SafetensorsFile mine(dir_ / "model.safetensors"), theirs(committed / "model.safetensors");
  ASSERT_EQ(mine.names(), theirs.names());
  for (const std::string& name : theirs.names()) {
    const SafetensorsEntry &a = mine.entry(name), &b = theirs.entry(name);
    EXPECT_EQ(a.dtype, b.dtype) << name;
    EXPECT_EQ(a.shape, b.shape) << name;
    std::vector<double> x = read_doubles(mine, name), y = read_doubles(theirs, name);
    EXPECT_EQ(x, y) << name;
  }
}

TEST_P(HfExport, TransformersComputesMasklmsLogits) {
  const bool pre = GetParam();
  const fs::path committed = kFixtures / ("export_masklm_" + arch_name(pre));
  const SafetensorsFile recorded(committed / "transformers_logits.safetensors");
  const std::vector<double> hf = read_doubles(recorded, "output.logits");
  // f32 weights widen exactly, and transformers ran in float64: only summation order differs.
  EXPECT_LT(nmse(masklm_logits(*import_model(committed, DType::F64), recorded), hf), 1e-24);
  // The model as trained (f32), not through the files: f32 rounding, about 1e-7 relative.
  EXPECT_LT(nmse(masklm_logits(*deterministic_model(pre), recorded), hf), 1e-11);
}

TEST_P(HfExport, ExportThenImportIsIdentity) {
  const auto model = deterministic_model(GetParam());
  export_hf_model(dir_, model->config(), model->params());
  const auto back = import_model(dir_, DType::F32);
  const ModelConfig &a = model->config(), &b = back->config();
  EXPECT_EQ(b.pre_layernorm, a.pre_layernorm);
  EXPECT_EQ(b.max_position_embeddings, a.max_position_embeddings);
  EXPECT_EQ(b.pad_token_id, a.pad_token_id);
  EXPECT_EQ(b.layer_norm_eps, a.layer_norm_eps);
  // A type_vocab_size of 0 comes back as one zero row: the same function.
  EXPECT_EQ(b.type_vocab_size, std::max<int64_t>(a.type_vocab_size, 1));
  for (const ParamEntry& e : model->params().table) {
    const ParamEntry* match = nullptr;
    for (const ParamEntry& f : back->params().table) match = f.name == e.name ? &f : match;
    ASSERT_NE(match, nullptr) << e.name;
    ASSERT_EQ(match->view.shape, e.view.shape) << e.name;
    EXPECT_EQ(std::memcmp(match->view.data, e.view.data, e.view.nbytes()), 0) << e.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfExport, ::testing::Values(false, true),
                         [](const auto& info) { return arch_name(info.param); });

class HfImport : public testing::TempDirTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(HfImport, ForwardMatchesTransformers) {
  const fs::path saved = kFixtures / ("export_transformers_" + GetParam());
  const SafetensorsFile recorded(saved / "transformers_logits.safetensors");
  const auto model = import_model(saved, DType::F64);
  EXPECT_EQ(model->config().pre_layernorm, GetParam() == "roberta_prelayernorm");
  EXPECT_LT(nmse(masklm_logits(*model, recorded), read_doubles(recorded, "output.logits")), 1e-24);
}

TEST_P(HfImport, ImportExportImportKeepsTheForward) {
  const fs::path saved = kFixtures / ("export_transformers_" + GetParam());
  const SafetensorsFile recorded(saved / "transformers_logits.safetensors");
  const auto model = import_model(saved, DType::F64);
  export_hf_model(dir_, model->config(), model->params());
  EXPECT_LT(nmse(masklm_logits(*import_model(dir_, DType::F64), recorded),
                 read_doubles(recorded, "output.logits")),
            1e-24);
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfImport,
                         ::testing::Values("bert", "roberta", "roberta_prelayernorm"),
                         [](const auto& info) { return info.param; });

class HfImportErrors : public testing::TempDirTest {
 protected:
  // A copy of the transformers-saved BERT with config.json edited by `edit`.
  fs::path bert_copy(const std::function<void(json&)>& edit = {}) {
    const fs::path src = kFixtures / "export_transformers_bert";
    fs::copy_file(src / "model.safetensors", dir_ / "model.safetensors",
                  fs::copy_options::overwrite_existing);
    json config = read_json(src / "config.json");
    if (edit) edit(config);
    std::ofstream(dir_ / "config.json") << config.dump();
    return dir_;
  }
  // Rewrites model.safetensors with `change` applied to its tensor list.
  void rewrite_weights(const std::function<void(std::map<std::string, Tensor>&)>& change) {
    const SafetensorsFile in(kFixtures / "export_transformers_bert" / "model.safetensors");
    std::map<std::string, Tensor> tensors;
    storage_.reserve(in.names().size() + 2);
    for (const std::string& name : in.names()) {
      std::vector<double>& v = storage_.emplace_back(read_doubles(in, name));
      tensors[name] = host_tensor(v.data(), in.entry(name).shape);
    }
    change(tensors);
    SafetensorsWriter out;
    for (const auto& [name, t] : tensors) out.add(name, t);
    out.write(dir_ / "model.safetensors");
  }
  std::vector<std::vector<double>> storage_;
};

TEST_F(HfImportErrors, MissingFiles) {
  expect_error([&] { read_hf_model_config(dir_); }, {dir_.string(), "no config.json"});
  bert_copy();
  fs::remove(dir_ / "model.safetensors");
  expect_error([&] { import_model(dir_, DType::F32); }, {"has no model.safetensors"});
  std::ofstream(dir_ / "pytorch_model.bin") << "x";
  expect_error([&] { import_model(dir_, DType::F32); }, {"pytorch_model.bin", "save_pretrained"});
}

TEST_F(HfImportErrors, UnsupportedArchitectures) {
  bert_copy([](json& c) { c["architectures"] = {"BertForSequenceClassification"}; });
  expect_error([&] { read_hf_model_config(dir_); },
               {"config.json", "unsupported architecture 'BertForSequenceClassification'",
                "RobertaForMaskedLM"});
  bert_copy([](json& c) { c["model_type"] = "gpt2"; });
  expect_error([&] { read_hf_model_config(dir_); }, {"unsupported model_type 'gpt2'"});
  bert_copy([](json& c) { c["hidden_act"] = "relu"; });
  expect_error([&] { read_hf_model_config(dir_); }, {"hidden_act 'relu'"});
}

TEST_F(HfImportErrors, ShapeMismatchNamesTheTensor) {
  bert_copy([](json& c) { c["intermediate_size"] = 48; });
  expect_error([&] { import_model(dir_, DType::F32); },
               {"bert.encoder.layer.0.intermediate.dense.weight", "[32, 16]", "[48, 16]"});
}

TEST_F(HfImportErrors, MissingUnexpectedAndUntiedTensors) {
  bert_copy();
  rewrite_weights([](auto& t) { t.erase("bert.embeddings.LayerNorm.bias"); });
  expect_error([&] { import_model(dir_, DType::F32); },
               {"no tensor 'bert.embeddings.LayerNorm.bias'"});

  rewrite_weights(
      [](auto& t) { t["bert.encoder.layer.0.attention.self.rotary"] = t["cls.predictions.bias"]; });
  expect_error([&] { import_model(dir_, DType::F32); },
               {"unexpected tensor 'bert.encoder.layer.0.attention.self.rotary'"});

  // Tied copies that agree (older transformers) and known extras load; an untied one does not.
  rewrite_weights([](auto& t) {
    t["cls.predictions.decoder.weight"] = t["bert.embeddings.word_embeddings.weight"];
    t["bert.embeddings.position_ids"] = t["cls.predictions.bias"];
  });
  EXPECT_NO_THROW(import_model(dir_, DType::F32));
  rewrite_weights([this](auto& t) {
    const Tensor& emb = t["bert.embeddings.word_embeddings.weight"];
    const double* x = emb.template ptr<double>();
    std::vector<double>& untied = storage_.emplace_back(x, x + emb.numel());
    untied[5] += 1;
    t["cls.predictions.decoder.weight"] = host_tensor(untied.data(), emb.shape);
  });
  expect_error([&] { import_model(dir_, DType::F32); }, {"cls.predictions.decoder.weight", "tied"});
}

}  // namespace
}  // namespace masklm
