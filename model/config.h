// Encoder configuration and the named presets. Field names follow the research meaning;
// model/hf_config.h maps them to and from Hugging Face config.json names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace masklm {

struct ModelConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;         // C
  int64_t num_layers = 12;           // L
  int64_t num_heads = 12;            // NH
  int64_t intermediate_size = 3072;  // F
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;  // 0 disables token-type embeddings
  // Pre-LN (RoBERTa-PreLayerNorm: LN before each sublayer and a final LN) or post-LN (BERT).
  bool pre_layernorm = false;
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  int64_t pad_token_id = 0;
  // Skip-corrupted (MAE-style) pretraining: the encoder sees only uncorrupted tokens; a
  // shallow decoder of decoder_layers blocks sees the encoder outputs plus [MASK]
  // embeddings (token mask_token_id) at the corrupted positions. Fine-tuning and export
  // use the encoder alone.
  bool skip_corrupted = false;
  int64_t decoder_layers = 0;
  int64_t mask_token_id = -1;

  int64_t head_size() const { return hidden_size / num_heads; }  // HS
  // Throws masklm::Error naming the first impossible field.
  void validate() const;
};

// tiny, mini, small, medium (BERT miniatures, Turc et al. 2019), base (12/768/12/3072),
// large (24/1024/16/4096). The vocabulary size comes from the tokenizer.
ModelConfig model_preset(std::string_view name, int64_t vocab_size);
std::vector<std::string> model_preset_names();

}  // namespace masklm
