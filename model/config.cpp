#include "model/config.h"

#include "runtime/error.h"

namespace masklm {

void ModelConfig::validate() const {
  MASKLM_CHECK(vocab_size > 0, "model.vocab_size must be positive, got {}", vocab_size);
  MASKLM_CHECK(hidden_size > 0, "model.hidden_size must be positive, got {}", hidden_size);
  MASKLM_CHECK(num_layers > 0, "model.num_layers must be positive, got {}", num_layers);
  MASKLM_CHECK(num_heads > 0 && hidden_size % num_heads == 0,
               "model.num_heads ({}) must divide model.hidden_size ({})", num_heads, hidden_size);
  MASKLM_CHECK(intermediate_size > 0, "model.intermediate_size must be positive, got {}",
               intermediate_size);
  MASKLM_CHECK(max_position_embeddings > 0, "model.max_position_embeddings must be positive, got {}",
               max_position_embeddings);
  MASKLM_CHECK(type_vocab_size >= 0, "model.type_vocab_size must be >= 0, got {}", type_vocab_size);
  MASKLM_CHECK(0 <= hidden_dropout && hidden_dropout < 1, "model.hidden_dropout must be in [0, 1), got {}",
               hidden_dropout);
  MASKLM_CHECK(0 <= attention_dropout && attention_dropout < 1,
               "model.attention_dropout must be in [0, 1), got {}", attention_dropout);
  MASKLM_CHECK(layer_norm_eps > 0, "model.layer_norm_eps must be positive, got {}", layer_norm_eps);
  MASKLM_CHECK(initializer_range > 0, "model.initializer_range must be positive, got {}",
               initializer_range);
  MASKLM_CHECK(0 <= pad_token_id && pad_token_id < vocab_size,
               "model.pad_token_id ({}) must be a token id below vocab_size ({})", pad_token_id, vocab_size);
  MASKLM_CHECK(decoder_layers >= 0, "model.decoder.layers must be >= 0, got {}", decoder_layers);
  MASKLM_CHECK(skip_corrupted || decoder_layers == 0,
               "model.decoder.layers ({}) needs model.encoder.skip_corrupted: true", decoder_layers);
  MASKLM_CHECK(!skip_corrupted || (0 <= mask_token_id && mask_token_id < vocab_size),
               "model.encoder.skip_corrupted needs the [MASK] token id (model.mask_token_id) below vocab_size ({}), got {}",
               vocab_size, mask_token_id);
}

namespace {
struct Preset {
  const char* name;
  int64_t layers, hidden, heads, ffn;
};
constexpr Preset kPresets[] = {
    {"tiny", 2, 128, 2, 512},     {"mini", 4, 256, 4, 1024},
    {"small", 4, 512, 8, 2048},   {"medium", 8, 512, 8, 2048},
    {"base", 12, 768, 12, 3072},  {"large", 24, 1024, 16, 4096},
};
}  // namespace

ModelConfig model_preset(std::string_view name, int64_t vocab_size) {
  for (const Preset& p : kPresets) {
    if (name != p.name) continue;
    ModelConfig c;
    c.vocab_size = vocab_size;
    c.num_layers = p.layers;
    c.hidden_size = p.hidden;
    c.num_heads = p.heads;
    c.intermediate_size = p.ffn;
    return c;
  }
  std::string known;
  for (const Preset& p : kPresets) known += std::string(known.empty() ? "" : ", ") + p.name;
  MASKLM_FAIL("unknown model preset '{}' (known: {})", name, known);
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

}  // namespace masklm
