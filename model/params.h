// The encoder's parameters as tensor views into one flat buffer, and the single table of
// (Hugging Face name, view, init, weight decay) that allocation, initialization,
// checkpoints, the optimizer and the tests all use.
//
// Gradients use the same layout: building the views on a second arena of the same size
// gives grads whose offsets match the parameters', so the optimizer walks both flat.
#pragma once

#include <string>
#include <vector>

#include "model/config.h"
#include "runtime/arena.h"

namespace masklm {

struct LayerParams {
  Tensor qkv_weight;        // (3C, C): query, key, value weights packed in this order
  Tensor qkv_bias;          // (3C)
  Tensor attn_out_weight;   // (C, C)
  Tensor attn_out_bias;     // (C)
  Tensor ln1_weight, ln1_bias;  // (C): post-LN after attention; pre-LN before attention
  Tensor ffn_in_weight;     // (F, C)
  Tensor ffn_in_bias;       // (F)
  Tensor ffn_out_weight;    // (C, F)
  Tensor ffn_out_bias;      // (C)
  Tensor ln2_weight, ln2_bias;  // (C): post-LN after the FFN; pre-LN before the FFN
};

struct ModelParams {
  Tensor word_embeddings;      // (V, C), also the MLM decoder (tied)
  Tensor position_embeddings;  // (max_positions, C)
  Tensor type_embeddings;      // (type_vocab, C), empty when type_vocab_size == 0
  Tensor emb_ln_weight, emb_ln_bias;  // (C)
  std::vector<LayerParams> layers;
  Tensor final_ln_weight, final_ln_bias;  // (C), pre-LN only
  // Skip-corrupted model only (names "decoder.*", not part of exports).
  std::vector<LayerParams> decoder_layers;
  Tensor decoder_final_ln_weight, decoder_final_ln_bias;  // (C), pre-LN with a decoder only
  Tensor head_dense_weight;    // (C, C)
  Tensor head_dense_bias;      // (C)
  Tensor head_ln_weight, head_ln_bias;  // (C)
  Tensor head_bias;            // (V), the decoder's output bias
};

enum class ParamInit { NORMAL, ZEROS, ONES };

struct ParamEntry {
  std::string name;  // Hugging Face name (BertForMaskedLM or RobertaPreLayerNormForMaskedLM)
  Tensor view;
  ParamInit init;
  bool weight_decay;  // false for LayerNorm weights and all biases
};

// Carves the parameters for `config` out of `arena` (use Arena::measuring() to size it) and
// lists them in allocation order.
struct ParamLayout {
  ModelParams params;
  std::vector<ParamEntry> table;
};
ParamLayout layout_params(const ModelConfig& config, Arena& arena, DType dtype);
// The same tensors as `like` (a layout of the same config, possibly followed by a task
// head's tensors, which are mirrored too), each at its element offset in `like`, carved from
// `arena` as one block of `dtype`: the 16-bit compute copy of fp32 master weights, whose
// flat element ranges then name the same parameters as the masters'.
ParamLayout layout_params_like(const ModelConfig& config, const ParamLayout& like, Arena& arena,
                               DType dtype);
// Where `entry` starts in its layout's flat buffer, and how many elements the buffer spans
// from its first tensor to the end of its last (alignment gaps included), in elements.
int64_t element_offset(const ParamLayout& layout, const ParamEntry& entry);
int64_t element_span(const ParamLayout& layout);

// BERT-style init: NORMAL entries ~ N(0, initializer_range^2) drawn from Philox keyed by
// (seed, entry index), so init is the same on every machine; the padding token's embedding
// row is zero as in Hugging Face. Writes through the table's views and
// params.word_embeddings (the padding row), which must all be host memory.
void init_params(const ParamLayout& layout, const ModelConfig& config, uint64_t seed);
// init_params for a layout carved from `arena`, on any device: initialized in a host mirror
// of the arena and copied over in one piece (the padding between tensors stays zero), so
// every device gets the same weights.
void init_params_in(const Arena& arena, const ParamLayout& layout, const ModelConfig& config,
                    uint64_t seed);

int64_t param_count(const ParamLayout& layout);

}  // namespace masklm
