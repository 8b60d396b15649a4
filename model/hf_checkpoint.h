// Hugging Face model directories (config.json + model.safetensors) to and from masklm's
// parameter layout, so `transformers` loads an exported model with from_pretrained and
// masklm trains on from a model transformers saved.
//
// masklm numbers positions from 0. RoBERTa-family models number them from
// pad_token_id + 1 (transformers' create_position_ids_from_input_ids), so their position
// table has pad_token_id + 1 leading rows masklm never uses: export prepends zero rows and
// raises max_position_embeddings by the same count, import drops them.
//
// The MLM decoder is tied to the word embeddings (and its bias to the head bias). Like
// transformers 5's save_pretrained, export omits the tied copies; import accepts them
// when present (older checkpoints) only if they equal what they are tied to.
#pragma once

#include <filesystem>

#include "model/params.h"

namespace masklm {

// Writes out_dir/config.json and out_dir/model.safetensors (creating out_dir) as
// BertForMaskedLM (post-LN) or RobertaPreLayerNormForMaskedLM (pre-LN).
void export_hf_model(const std::filesystem::path& out_dir, const ModelConfig& config,
                     const ParamLayout& params);

// The masklm configuration of a transformers model directory holding a BertForMaskedLM
// (or BertForPreTraining), RobertaForMaskedLM or RobertaPreLayerNormForMaskedLM. Throws
// masklm::Error naming the file and the problem for other architectures or settings
// masklm does not compute.
ModelConfig read_hf_model_config(const std::filesystem::path& hf_dir);

// Loads hf_dir/model.safetensors into `params`, laid out for read_hf_model_config(hf_dir).
// Every parameter must be present with its shape; a tensor that is neither a parameter nor
// a known extra (pooler, next-sentence head, position_ids buffer, tied decoder) is an error.
void load_hf_weights(const std::filesystem::path& hf_dir, const ParamLayout& params);

}  // namespace masklm
