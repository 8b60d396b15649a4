// ModelConfig <-> Hugging Face config.json, so exported checkpoints load in `transformers`
// and HF checkpoints import. Post-LN models are BERT ("bert", BertForMaskedLM); pre-LN
// models are RoBERTa-PreLayerNorm ("roberta-prelayernorm", RobertaPreLayerNormForMaskedLM).
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "model/config.h"

namespace masklm {

nlohmann::json hf_config_to_json(const ModelConfig& cfg);
// Throws masklm::Error naming `source` and the problem: an unsupported model_type,
// hidden_act, position_embedding_type or untied embeddings, a missing or mistyped field,
// or a configuration that fails ModelConfig::validate().
ModelConfig hf_config_from_json(const nlohmann::json& j, std::string_view source = "config.json");

void write_hf_config(const std::filesystem::path& path, const ModelConfig& cfg);
ModelConfig read_hf_config(const std::filesystem::path& path);

}  // namespace masklm
