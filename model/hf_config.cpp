#include "model/hf_config.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace {

using nlohmann::json;

struct Architecture {
  const char* model_type;
  const char* architecture;
  bool pre_layernorm;
  int64_t default_pad_token_id;  // the transformers config class's default
};
constexpr Architecture kArchitectures[] = {
    {"bert", "BertForMaskedLM", false, 0},
    {"roberta-prelayernorm", "RobertaPreLayerNormForMaskedLM", true, 1},
};

const Architecture& architecture_for(bool pre_layernorm) {
  for (const Architecture& a : kArchitectures)
    if (a.pre_layernorm == pre_layernorm) return a;
  MASKLM_FAIL("no Hugging Face architecture for pre_layernorm={}", pre_layernorm);
}

// The value of `key`, or `fallback` when it is absent or null; without a fallback the field
// is required.
template <typename T>
T field(const json& j, std::string_view source, const char* key, std::optional<T> fallback = std::nullopt) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (!fallback) MASKLM_FAIL("{}: missing required field '{}'", source, key);
    return *fallback;
  }
  bool type_ok;
  if constexpr (std::is_same_v<T, bool>)
    type_ok = it->is_boolean();
  else if constexpr (std::is_integral_v<T>)
    type_ok = it->is_number_integer();
  else if constexpr (std::is_floating_point_v<T>)
    type_ok = it->is_number();
  else
    type_ok = it->is_string();
  if (!type_ok) MASKLM_FAIL("{}: field '{}' has the wrong type: {}", source, key, it->dump());
  return it->get<T>();
}

}  // namespace

json hf_config_to_json(const ModelConfig& cfg) {
  const Architecture& arch = architecture_for(cfg.pre_layernorm);
  return json{
      {"architectures", json::array({arch.architecture})},
      {"model_type", arch.model_type},
      {"vocab_size", cfg.vocab_size},
      {"hidden_size", cfg.hidden_size},
      {"num_hidden_layers", cfg.num_layers},
      {"num_attention_heads", cfg.num_heads},
      {"intermediate_size", cfg.intermediate_size},
      {"max_position_embeddings", cfg.max_position_embeddings},
      {"type_vocab_size", cfg.type_vocab_size},
      {"hidden_act", "gelu"},
      {"hidden_dropout_prob", cfg.hidden_dropout},
      {"attention_probs_dropout_prob", cfg.attention_dropout},
      {"layer_norm_eps", cfg.layer_norm_eps},
      {"initializer_range", cfg.initializer_range},
      {"pad_token_id", cfg.pad_token_id},
      {"tie_word_embeddings", true},
      {"position_embedding_type", "absolute"},
  };
}

ModelConfig hf_config_from_json(const json& j, std::string_view source) {
  if (!j.is_object()) MASKLM_FAIL("{}: expected a JSON object, got {}", source, j.type_name());
  const std::string model_type = field<std::string>(j, source, "model_type");
  const Architecture* arch = nullptr;
  for (const Architecture& a : kArchitectures)
    if (model_type == a.model_type) arch = &a;
  if (!arch)
    MASKLM_FAIL("{}: unsupported model_type '{}' (supported: bert for post-LN, roberta-prelayernorm for pre-LN)",
                source, model_type);

  // Only what masklm computes is accepted; anything else would load but give other outputs.
  const std::string act = field<std::string>(j, source, "hidden_act", "gelu");
  if (act != "gelu") MASKLM_FAIL("{}: unsupported hidden_act '{}' (masklm implements the exact erf 'gelu')", source, act);
  const std::string positions = field<std::string>(j, source, "position_embedding_type", "absolute");
  if (positions != "absolute")
    MASKLM_FAIL("{}: unsupported position_embedding_type '{}' (masklm implements 'absolute')", source, positions);
  if (!field<bool>(j, source, "tie_word_embeddings", true))
    MASKLM_FAIL("{}: tie_word_embeddings is false, but masklm ties the MLM decoder to the embeddings", source);

  ModelConfig cfg;
  cfg.pre_layernorm = arch->pre_layernorm;
  cfg.vocab_size = field<int64_t>(j, source, "vocab_size");
  cfg.hidden_size = field<int64_t>(j, source, "hidden_size");
  cfg.num_layers = field<int64_t>(j, source, "num_hidden_layers");
  cfg.num_heads = field<int64_t>(j, source, "num_attention_heads");
  cfg.intermediate_size = field<int64_t>(j, source, "intermediate_size");
  cfg.max_position_embeddings = field<int64_t>(j, source, "max_position_embeddings");
  // Absent optional fields take the transformers config classes' defaults.
  cfg.type_vocab_size = field<int64_t>(j, source, "type_vocab_size", 2);
  cfg.hidden_dropout = field<double>(j, source, "hidden_dropout_prob", 0.1);
  cfg.attention_dropout = field<double>(j, source, "attention_probs_dropout_prob", 0.1);
  cfg.layer_norm_eps = field<double>(j, source, "layer_norm_eps", 1e-12);
  cfg.initializer_range = field<double>(j, source, "initializer_range", 0.02);
  cfg.pad_token_id = field<int64_t>(j, source, "pad_token_id", arch->default_pad_token_id);
  try {
    cfg.validate();
  } catch (const Error& e) {
    MASKLM_FAIL("{}: {}", source, e.what());
  }
  return cfg;
}

void write_hf_config(const std::filesystem::path& path, const ModelConfig& cfg) {
  write_file_atomic(path, hf_config_to_json(cfg).dump(2) + "\n");
}

ModelConfig read_hf_config(const std::filesystem::path& path) {
  return hf_config_from_json(read_json_file(path), path.string());
}

}  // namespace masklm
