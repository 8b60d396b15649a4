#include "model/params.h"

#include <cmath>
#include <cstring>

#include "runtime/host_mirror.h"
#include "runtime/philox.h"

namespace masklm {

namespace {

// Builds views in a fixed order and records their Hugging Face names. The views come from
// an arena, or (mirroring) sit at the element offsets of an existing layout's entries.
class LayoutBuilder {
 public:
  LayoutBuilder(Arena& arena, DType dtype, std::vector<ParamEntry>& table)
      : arena_(&arena), dtype_(dtype), table_(table) {}
  LayoutBuilder(const ParamLayout& like, const Tensor& flat, std::vector<ParamEntry>& table)
      : like_(&like), flat_(flat), dtype_(flat.dtype), table_(table) {}

  Tensor add(const std::string& name, Shape shape, ParamInit init, bool decay) {
    Tensor t = place(shape);
    table_.push_back({name, t, init, decay});
    return t;
  }
  // Query, key and value packed in one (3 * rows, ...) tensor with one table entry each.
  Tensor add_qkv(const std::string& prefix, const std::string& suffix, Shape part, ParamInit init,
                 bool decay) {
    Shape packed = part;
    packed.dims[0] *= 3;
    Tensor t = place(packed);
    const char* names[] = {"query", "key", "value"};
    for (int i = 0; i < 3; ++i)
      table_.push_back({prefix + names[i] + suffix, t.rows(i * part[0], (i + 1) * part[0]), init, decay});
    return t;
  }
  // Mirroring: the entries of the layout to mirror past the model's (a task head's), as
  // they are there.
  void add_rest_of_like() {
    while (table_.size() < like_->table.size()) {
      const ParamEntry& e = like_->table[table_.size()];
      add(e.name, e.view.shape, e.init, e.weight_decay);
    }
  }

 private:
  Tensor place(const Shape& shape) {
    if (arena_) return arena_->alloc(shape, dtype_);
    MASKLM_CHECK(table_.size() < like_->table.size(), "layout to mirror has fewer tensors");
    const int64_t begin = element_offset(*like_, like_->table[table_.size()]);
    return flat_.rows(begin, begin + shape.numel()).view(shape);
  }

  Arena* arena_ = nullptr;
  const ParamLayout* like_ = nullptr;
  Tensor flat_;
  DType dtype_;
  std::vector<ParamEntry>& table_;
};

// The body shared by layout_params and layout_params_like: every tensor in a fixed order.
void build_layout(const ModelConfig& config, LayoutBuilder& b, ModelParams& p) {
  const int64_t C = config.hidden_size, F = config.intermediate_size, V = config.vocab_size;
  const bool pre = config.pre_layernorm;
  const std::string model = pre ? "roberta_prelayernorm." : "bert.";
  const std::string emb = model + "embeddings.";

  p.word_embeddings = b.add(emb + "word_embeddings.weight", {V, C}, ParamInit::NORMAL, true);
  p.position_embeddings = b.add(emb + "position_embeddings.weight",
                                {config.max_position_embeddings, C}, ParamInit::NORMAL, true);
  if (config.type_vocab_size > 0)
    p.type_embeddings = b.add(emb + "token_type_embeddings.weight", {config.type_vocab_size, C},
                              ParamInit::NORMAL, true);
  p.emb_ln_weight = b.add(emb + "LayerNorm.weight", {C}, ParamInit::ONES, false);
  p.emb_ln_bias = b.add(emb + "LayerNorm.bias", {C}, ParamInit::ZEROS, false);

  // One transformer block; `layer` is its name prefix. HF names of the two LayerNorms
  // differ by placement: post-LN normalizes the sublayer outputs, pre-LN the inputs.
  auto add_layer = [&](const std::string& layer) {
    const std::string ln1 = layer + (pre ? "attention.LayerNorm." : "attention.output.LayerNorm.");
    const std::string ln2 = layer + (pre ? "intermediate.LayerNorm." : "output.LayerNorm.");
    LayerParams lp;
    if (pre) {
      lp.ln1_weight = b.add(ln1 + "weight", {C}, ParamInit::ONES, false);
      lp.ln1_bias = b.add(ln1 + "bias", {C}, ParamInit::ZEROS, false);
    }
    lp.qkv_weight = b.add_qkv(layer + "attention.self.", ".weight", {C, C}, ParamInit::NORMAL, true);
    lp.qkv_bias = b.add_qkv(layer + "attention.self.", ".bias", {C}, ParamInit::ZEROS, false);
    lp.attn_out_weight = b.add(layer + "attention.output.dense.weight", {C, C}, ParamInit::NORMAL, true);
    lp.attn_out_bias = b.add(layer + "attention.output.dense.bias", {C}, ParamInit::ZEROS, false);
    if (!pre) {
      lp.ln1_weight = b.add(ln1 + "weight", {C}, ParamInit::ONES, false);
      lp.ln1_bias = b.add(ln1 + "bias", {C}, ParamInit::ZEROS, false);
    } else {
      lp.ln2_weight = b.add(ln2 + "weight", {C}, ParamInit::ONES, false);
      lp.ln2_bias = b.add(ln2 + "bias", {C}, ParamInit::ZEROS, false);
    }
    lp.ffn_in_weight = b.add(layer + "intermediate.dense.weight", {F, C}, ParamInit::NORMAL, true);
    lp.ffn_in_bias = b.add(layer + "intermediate.dense.bias", {F}, ParamInit::ZEROS, false);
    lp.ffn_out_weight = b.add(layer + "output.dense.weight", {C, F}, ParamInit::NORMAL, true);
    lp.ffn_out_bias = b.add(layer + "output.dense.bias", {C}, ParamInit::ZEROS, false);
    if (!pre) {
      lp.ln2_weight = b.add(ln2 + "weight", {C}, ParamInit::ONES, false);
      lp.ln2_bias = b.add(ln2 + "bias", {C}, ParamInit::ZEROS, false);
    }
    return lp;
  };

  for (int64_t l = 0; l < config.num_layers; ++l)
    p.layers.push_back(add_layer(model + "encoder.layer." + std::to_string(l) + "."));
  if (pre) {
    p.final_ln_weight = b.add(model + "LayerNorm.weight", {C}, ParamInit::ONES, false);
    p.final_ln_bias = b.add(model + "LayerNorm.bias", {C}, ParamInit::ZEROS, false);
  }
  for (int64_t l = 0; l < config.decoder_layers; ++l)
    p.decoder_layers.push_back(add_layer("decoder.layer." + std::to_string(l) + "."));
  if (pre && config.decoder_layers > 0) {
    p.decoder_final_ln_weight = b.add("decoder.LayerNorm.weight", {C}, ParamInit::ONES, false);
    p.decoder_final_ln_bias = b.add("decoder.LayerNorm.bias", {C}, ParamInit::ZEROS, false);
  }

  const std::string head = pre ? "lm_head." : "cls.predictions.";
  const std::string dense = pre ? head + "dense." : head + "transform.dense.";
  const std::string ln = pre ? head + "layer_norm." : head + "transform.LayerNorm.";
  p.head_dense_weight = b.add(dense + "weight", {C, C}, ParamInit::NORMAL, true);
  p.head_dense_bias = b.add(dense + "bias", {C}, ParamInit::ZEROS, false);
  p.head_ln_weight = b.add(ln + "weight", {C}, ParamInit::ONES, false);
  p.head_ln_bias = b.add(ln + "bias", {C}, ParamInit::ZEROS, false);
  p.head_bias = b.add(head + "bias", {V}, ParamInit::ZEROS, false);
}

}  // namespace

int64_t element_offset(const ParamLayout& layout, const ParamEntry& entry) {
  const auto* base = static_cast<const char*>(layout.table.front().view.data);
  return (static_cast<const char*>(entry.view.data) - base) /
         static_cast<int64_t>(dtype_size(entry.view.dtype));
}

int64_t element_span(const ParamLayout& layout) {
  const ParamEntry& last = layout.table.back();
  return element_offset(layout, last) + last.view.numel();
}

ParamLayout layout_params(const ModelConfig& config, Arena& arena, DType dtype) {
  config.validate();
  ParamLayout out;
  LayoutBuilder b(arena, dtype, out.table);
  build_layout(config, b, out.params);
  return out;
}

ParamLayout layout_params_like(const ModelConfig& config, const ParamLayout& like, Arena& arena,
                               DType dtype) {
  config.validate();
  ParamLayout out;
  LayoutBuilder b(like, arena.alloc({element_span(like)}, dtype), out.table);
  build_layout(config, b, out.params);
  b.add_rest_of_like();
  return out;
}

template <typename T> static void init_entry(const ParamEntry& e, double stddev, const RngKey& key) {
  T* x = e.view.ptr<T>();
  const int64_t n = e.view.numel();
  switch (e.init) {
    case ParamInit::ZEROS: std::memset(x, 0, e.view.nbytes()); return;
    case ParamInit::ONES:
      for (int64_t i = 0; i < n; ++i) x[i] = T(1);
      return;
    case ParamInit::NORMAL:
      // Box-Muller on two Philox words per value; u1 is shifted off zero for the log.
      for (int64_t i = 0; i < n; ++i) {
        const PhiloxCounter r = philox_block(key, static_cast<uint64_t>(i));
        const double u1 = (static_cast<double>(r.c[0]) + 0.5) / 4294967296.0;
        const double u2 = static_cast<double>(r.c[1]) / 4294967296.0;
        x[i] = static_cast<T>(stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
      }
      return;
  }
}

void init_params(const ParamLayout& layout, const ModelConfig& config, uint64_t seed) {
  for (size_t i = 0; i < layout.table.size(); ++i) {
    const ParamEntry& e = layout.table[i];
    MASKLM_CHECK(e.view.device == Device::CPU, "init_params runs on host memory; initialize, then copy");
    const RngKey key{seed, 0, 0, RngStream::INIT, static_cast<uint32_t>(i)};
    if (e.view.dtype == DType::F64)
      init_entry<double>(e, config.initializer_range, key);
    else
      init_entry<float>(e, config.initializer_range, key);
  }
  // Hugging Face zeroes the padding token's embedding at init.
  MASKLM_CHECK(layout.params.word_embeddings.device == Device::CPU,
               "init_params zeroes the padding row in host memory; the word embeddings are not");
  const Tensor pad = layout.params.word_embeddings.rows(config.pad_token_id, config.pad_token_id + 1);
  std::memset(pad.data, 0, pad.nbytes());
}

void init_params_in(const Arena& arena, const ParamLayout& layout, const ModelConfig& config,
                    uint64_t seed) {
  HostMirror host(arena);
  host.pull();
  ParamLayout host_layout = layout;
  for (ParamEntry& e : host_layout.table) e.view = host(e.view);
  host_layout.params.word_embeddings = host(layout.params.word_embeddings);  // its padding row
  init_params(host_layout, config, seed);
  host.push();
}

int64_t param_count(const ParamLayout& layout) {
  int64_t n = 0;
  for (const ParamEntry& e : layout.table) n += e.view.numel();
  return n;
}

}  // namespace masklm
