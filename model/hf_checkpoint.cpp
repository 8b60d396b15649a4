#include "model/hf_checkpoint.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "model/hf_config.h"
#include "model/safetensors.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";

// One transformers model family masklm reads. masklm's parameter table uses BERT names
// for post-LN and RoBERTa-PreLayerNorm names for pre-LN; RoBERTa (post-LN) renames the
// BERT ones.
struct HfFamily {
  const char* model_type;
  std::vector<std::string> architectures;  // the MLM classes whose weights masklm holds
  const char* as_model_type;               // what model/hf_config.h reads it as
  bool offset_positions;                   // positions start at pad_token_id + 1
  const char* model_prefix;                // "bert." ...
  const char* head_prefix;                 // "cls.predictions." ...
  const char* decoder_prefix;              // the tied decoder: decoder.weight, decoder.bias
};

const std::vector<HfFamily>& families() {
  static const std::vector<HfFamily> all = {
      {"bert",
       {"BertForMaskedLM", "BertForPreTraining"},
       "bert",
       false,
       "bert.",
       "cls.predictions.",
       "cls.predictions.decoder."},
      {"roberta", {"RobertaForMaskedLM"}, "bert", true, "roberta.", "lm_head.", "lm_head.decoder."},
      {"roberta-prelayernorm",
       {"RobertaPreLayerNormForMaskedLM"},
       "roberta-prelayernorm",
       true,
       "roberta_prelayernorm.",
       "lm_head.",
       "lm_head.decoder."},
  };
  return all;
}

const HfFamily& family_named(const std::string& model_type) {
  for (const HfFamily& f : families())
    if (model_type == f.model_type) return f;
  MASKLM_FAIL("no Hugging Face family '{}'", model_type);
}

// Export writes the two architectures hf_config.h names; import also reads RoBERTa.
const HfFamily& export_family(const ModelConfig& config) {
  return family_named(config.pre_layernorm ? "roberta-prelayernorm" : "bert");
}

int64_t position_offset(const HfFamily& family, const ModelConfig& config) {
  return family.offset_positions ? config.pad_token_id + 1 : 0;
}

// The family's name for the masklm parameter `name`.
std::string hf_name(const HfFamily& family, const std::string& name) {
  if (std::string(family.model_type) != "roberta") return name;
  static const std::pair<std::string, std::string> renames[] = {
      {"bert.", "roberta."},
      {"cls.predictions.transform.dense.", "lm_head.dense."},
      {"cls.predictions.transform.LayerNorm.", "lm_head.layer_norm."},
      {"cls.predictions.bias", "lm_head.bias"},
  };
  for (const auto& [from, to] : renames)
    if (name.rfind(from, 0) == 0) return to + name.substr(from.size());
  MASKLM_FAIL("parameter '{}' has no RoBERTa name", name);
}

// Whether masklm parameter `name` belongs to the transformers model: the encoder and MLM
// head do; pretraining-only parts (the skip-corrupted decoder) do not.
bool exported(const HfFamily& family, const std::string& name) {
  return name.rfind(family.model_prefix, 0) == 0 || name.rfind(family.head_prefix, 0) == 0;
}

// Tensors a transformers checkpoint may hold that masklm has no use for.
bool is_ignorable_extra(const HfFamily& family, const std::string& name) {
  const std::string model = family.model_prefix;
  return name == model + "embeddings.position_ids" ||  // a buffer saved by transformers < 4.31
         name.rfind(model + "pooler.", 0) == 0 ||      // the [CLS] pooler of BertModel
         name.rfind("cls.seq_relationship.", 0) == 0;  // BertForPreTraining's NSP head
}

struct HfModelDir {
  const HfFamily* family;
  ModelConfig config;  // in masklm's terms (positions from 0)
};

HfModelDir read_hf_model_dir(const fs::path& hf_dir) {
  const fs::path path = hf_dir / kConfigFile;
  MASKLM_CHECK(fs::is_regular_file(path), "'{}' is not a Hugging Face model directory: no {}",
               hf_dir.string(), kConfigFile);
  json j = read_json_file(path);
  MASKLM_CHECK(j.is_object() && j.contains("model_type") && j["model_type"].is_string(),
               "{}: missing required field 'model_type'", path.string());
  const std::string model_type = j["model_type"].get<std::string>();
  const HfFamily* family = nullptr;
  std::string supported;
  for (const HfFamily& f : families()) {
    if (model_type == f.model_type) family = &f;
    for (const std::string& a : f.architectures) supported += (supported.empty() ? "" : ", ") + a;
  }
  MASKLM_CHECK(family, "{}: unsupported model_type '{}' (masklm imports {})", path.string(),
               model_type, supported);
  if (j.contains("architectures") && j["architectures"].is_array()) {
    for (const json& a : j["architectures"]) {
      const std::string arch = a.is_string() ? a.get<std::string>() : a.dump();
      bool known = false;
      for (const std::string& s : family->architectures) known = known || arch == s;
      MASKLM_CHECK(known, "{}: unsupported architecture '{}' (masklm imports {})", path.string(),
                   arch, supported);
    }
  }
  // RobertaConfig's default padding id is 1; BertConfig's (what hf_config.h assumes) is 0.
  if (std::string(family->model_type) == "roberta" &&
      (!j.contains("pad_token_id") || j["pad_token_id"].is_null()))
    j["pad_token_id"] = 1;
  j["model_type"] = family->as_model_type;
  ModelConfig config = hf_config_from_json(j, path.string());
  const int64_t offset = position_offset(*family, config);
  MASKLM_CHECK(config.max_position_embeddings > offset,
               "{}: max_position_embeddings ({}) leaves no positions after the {} that {} "
               "reserves before pad_token_id + 1",
               path.string(), config.max_position_embeddings, offset, model_type);
  config.max_position_embeddings -= offset;
  return {family, config};
}

fs::path weights_file(const fs::path& hf_dir) {
  const fs::path path = hf_dir / kWeightsFile;
  if (fs::is_regular_file(path)) return path;
  MASKLM_CHECK(!fs::exists(hf_dir / "model.safetensors.index.json"),
               "'{}' holds a sharded checkpoint (model.safetensors.index.json); masklm reads one "
               "model.safetensors: save it with max_shard_size larger than the model",
               hf_dir.string());
  MASKLM_CHECK(!fs::exists(hf_dir / "pytorch_model.bin"),
               "'{}' holds pytorch_model.bin only; masklm reads safetensors: load the model in "
               "transformers and save_pretrained it again (safetensors is the default)",
               hf_dir.string());
  MASKLM_FAIL("'{}' has no {}", hf_dir.string(), kWeightsFile);
}

// A host buffer with a tensor view over it.
struct OwnedTensor {
  std::vector<std::byte> bytes;
  Tensor view;

  OwnedTensor(Shape shape, DType dtype) {
    view.shape = shape;
    view.dtype = dtype;
    bytes.resize(view.nbytes());
    view.data = bytes.data();
  }
};

// Reads tensor `name` of `file` into a new buffer of `dtype`, checking its shape first.
OwnedTensor read_tensor(const SafetensorsFile& file, const std::string& name, Shape expected,
                        DType dtype) {
  const SafetensorsEntry& e = file.entry(name);
  MASKLM_CHECK(e.shape == expected,
               "{}: tensor '{}' has shape {}, the model's config.json implies {}",
               file.path().string(), name, e.shape.str(), expected.str());
  OwnedTensor t(expected, dtype);
  file.read_into(name, t.view);
  return t;
}

}  // namespace

void export_hf_model(const fs::path& out_dir, const ModelConfig& config,
                     const ParamLayout& params) {
  const HfFamily& family = export_family(config);
  const int64_t offset = position_offset(family, config);
  const ModelParams& p = params.params;
  const int64_t C = config.hidden_size;
  const DType dtype = p.word_embeddings.dtype;

  json j = hf_config_to_json(config);
  j["max_position_embeddings"] = config.max_position_embeddings + offset;
  // transformers always builds a token-type table; one zero row adds nothing, as masklm's
  // type_vocab_size 0 does.
  const bool zero_types = config.type_vocab_size == 0;
  if (zero_types) j["type_vocab_size"] = 1;

  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");  // transformers refuses safetensors without it
  std::vector<OwnedTensor> made;        // stays alive until write(): the writer keeps views
  made.reserve(2);
  for (const ParamEntry& e : params.table) {
    if (!exported(family, e.name)) continue;
    if (e.view.data != p.position_embeddings.data || offset == 0) {
      writer.add(hf_name(family, e.name), e.view);
      continue;
    }
    OwnedTensor& shifted =
        made.emplace_back(Shape{config.max_position_embeddings + offset, C}, dtype);
    std::memcpy(shifted.view.rows(offset, offset + config.max_position_embeddings).data,
                e.view.data, e.view.nbytes());
    writer.add(hf_name(family, e.name), shifted.view);
  }
  if (zero_types)
    writer.add(std::string(family.model_prefix) + "embeddings.token_type_embeddings.weight",
               made.emplace_back(Shape{1, C}, dtype).view);

  fs::create_directories(out_dir);
  writer.write(out_dir / kWeightsFile);
  write_file_atomic(out_dir / kConfigFile, j.dump(2) + "\n");
}

ModelConfig read_hf_model_config(const fs::path& hf_dir) {
  return read_hf_model_dir(hf_dir).config;
}

void load_hf_weights(const fs::path& hf_dir, const ParamLayout& params) {
  const HfModelDir dir = read_hf_model_dir(hf_dir);
  const HfFamily& family = *dir.family;
  const ModelConfig& config = dir.config;
  const int64_t offset = position_offset(family, config);
  const SafetensorsFile file(weights_file(hf_dir));
  const ModelParams& p = params.params;
  std::set<std::string> used;

  for (const ParamEntry& e : params.table) {
    const std::string name = hf_name(family, e.name);
    MASKLM_CHECK(file.has(name), "{}: no tensor '{}', which a {} model needs", file.path().string(),
                 name, family.model_type);
    used.insert(name);
    if (e.view.data == p.position_embeddings.data) {
      const OwnedTensor all = read_tensor(
          file, name, {config.max_position_embeddings + offset, config.hidden_size}, e.view.dtype);
      std::memcpy(e.view.data, all.view.rows(offset, offset + config.max_position_embeddings).data,
                  e.view.nbytes());
    } else {
      MASKLM_CHECK(file.entry(name).shape == e.view.shape,
                   "{}: tensor '{}' has shape {}, the model's config.json implies {}",
                   file.path().string(), name, file.entry(name).shape.str(), e.view.shape.str());
      file.read_into(name, e.view);
    }
  }

  // Older checkpoints store the tied decoder; masklm has one copy, so they must agree.
  const std::pair<std::string, Tensor> tied[] = {
      {std::string(family.decoder_prefix) + "weight", p.word_embeddings},
      {std::string(family.decoder_prefix) + "bias", p.head_bias},
  };
  for (const auto& [name, target] : tied) {
    if (!file.has(name)) continue;
    used.insert(name);
    const OwnedTensor copy = read_tensor(file, name, target.shape, target.dtype);
    MASKLM_CHECK(std::memcmp(copy.view.data, target.data, target.nbytes()) == 0,
                 "{}: '{}' differs from the tensor it is tied to; masklm ties the MLM decoder "
                 "to the word embeddings and cannot hold an untied one",
                 file.path().string(), name);
  }

  for (const std::string& name : file.names())
    MASKLM_CHECK(used.count(name) || is_ignorable_extra(family, name),
                 "{}: unexpected tensor '{}' (not part of a {} masked-LM model masklm can hold)",
                 file.path().string(), name, family.model_type);
}

}  // namespace masklm
