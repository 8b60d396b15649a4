#include "model/encoder.h"

namespace masklm {

namespace {

// Hidden-dropout sites: the embedding outputs first (see kEmbeddingDropoutSites), then two
// per layer (attention projection, FFN). Layers are numbered across both stacks, the
// decoder's after the encoder's, so no two sites of a step share a key.
constexpr uint32_t kEmbeddingDropoutSites = 2;
uint32_t dropout_site_attn_proj(int64_t layer) { return static_cast<uint32_t>(kEmbeddingDropoutSites + 2 * layer); }
uint32_t dropout_site_ffn_out(int64_t layer) { return static_cast<uint32_t>(kEmbeddingDropoutSites + 1 + 2 * layer); }

float attention_p(const ModelConfig& cfg, const DropoutPlan& d) {
  return d.training ? static_cast<float>(cfg.attention_dropout) : 0.0f;
}

// In-place dropout on a forward activation; skipped entirely when off.
void dropout_inplace(Ctx& ctx, const Tensor& t, float p, const RngKey& key) {
  if (p > 0) dropout_forward(ctx, t, t, p, key);
}

// Gradient w.r.t. the input of an in-place dropout: d itself when dropout is off.
Tensor dropout_grad(Ctx& ctx, const Tensor& d, float p, const RngKey& key, const Tensor& scratch) {
  if (p == 0) return d;
  fill_zero(ctx, scratch);
  dropout_backward(ctx, scratch, d, p, key);
  return scratch;
}

// The first n tokens' rows of every buffer of a layer.
LayerActivations batch_rows(const LayerActivations& l, int64_t n, int64_t num_heads) {
  LayerActivations v;
  v.ln1 = l.ln1.rows(0, n), v.ln1_mean = l.ln1_mean.rows(0, n), v.ln1_rstd = l.ln1_rstd.rows(0, n);
  v.qkv = l.qkv.rows(0, n);
  v.attn = l.attn.rows(0, n);
  v.attn_lse = l.attn_lse.rows(0, num_heads * n).view({num_heads, n});
  v.attn_proj = l.attn_proj.rows(0, n), v.res1 = l.res1.rows(0, n);
  v.ln2 = l.ln2.rows(0, n), v.ln2_mean = l.ln2_mean.rows(0, n), v.ln2_rstd = l.ln2_rstd.rows(0, n);
  v.ffn_pre = l.ffn_pre.rows(0, n), v.ffn_act = l.ffn_act.rows(0, n);
  v.ffn_out = l.ffn_out.rows(0, n), v.res2 = l.res2.rows(0, n);
  return v;
}

Tensor batch_types(const ModelConfig& cfg, const Tensor& zero_types, const BatchTensors& b) {
  if (!b.types.empty() || cfg.type_vocab_size == 0) return b.types;
  return zero_types.rows(0, b.num_tokens);  // Hugging Face's default: every token type 0
}

// The parameters, gradients and activations of one stack, and its first global layer index.
struct StackParts {
  const std::vector<LayerParams>& layers;
  Tensor final_ln_weight, final_ln_bias;  // empty: the stack has no final LayerNorm
  int64_t first_layer;
};
StackParts stack_parts(const ModelConfig& cfg, const ModelParams& p, Stack stack) {
  if (stack == Stack::ENCODER) return {p.layers, p.final_ln_weight, p.final_ln_bias, 0};
  return {p.decoder_layers, p.decoder_final_ln_weight, p.decoder_final_ln_bias, cfg.num_layers};
}
const std::vector<LayerActivations>& stack_acts(const Activations& a, Stack stack) {
  return stack == Stack::ENCODER ? a.layers : a.decoder_layers;
}
const NormActivations& stack_norm(const Activations& a, Stack stack) {
  return stack == Stack::ENCODER ? a.final_norm : a.decoder_final_norm;
}

// A layer's first tensor in the table (model/params.cpp's order).
const Tensor& first_tensor(const ModelConfig& cfg, const LayerParams& p) {
  return cfg.pre_layernorm ? p.ln1_weight : p.qkv_weight;
}

// Input of layer l of a stack whose input is x: x or the previous layer's output.
Tensor layer_input(const ModelConfig& cfg, const std::vector<LayerActivations>& acts, const Tensor& x, int64_t l) {
  if (l == 0) return x;
  const LayerActivations& prev = acts[static_cast<size_t>(l - 1)];
  return (cfg.pre_layernorm ? prev.res2 : prev.ln2).rows(0, x.size(0));
}

struct LayerBackward {
  Ctx& ctx;
  const ModelConfig& cfg;
  const LayerParams& p;
  const LayerParams& g;
  const LayerActivations& a;
  GradScratch& s;
  const Tensor& cu_seqlens;
  int64_t n;  // tokens in this stack's input
  const DropoutPlan& dropout;
  int64_t layer;  // global index across both stacks

  Tensor scratch(const Tensor& buf) const { return buf.rows(0, n); }

  // Gradient before the in-place hidden dropout at `site`, given the gradient after it.
  Tensor before_dropout(const Tensor& d, uint32_t site) const {
    return dropout_grad(ctx, d, hidden_p(cfg, dropout), site_key(dropout, RngStream::HIDDEN_DROPOUT, site),
                        scratch(s.d_tmp));
  }

  // FFN branch: d_branch is the gradient of ffn_out (after dropout); accumulates the
  // gradient of the FFN input into d_ffn_in.
  void ffn(const Tensor& d_branch, const Tensor& ffn_in, const Tensor& d_ffn_in) {
    const Tensor d_out = before_dropout(d_branch, dropout_site_ffn_out(layer));
    const Tensor d_act = scratch(s.d_ffn_act), d_pre = scratch(s.d_ffn_pre);
    fill_zero(ctx, d_act);
    matmul_backward(ctx, d_act, g.ffn_out_weight, g.ffn_out_bias, d_out, a.ffn_act, p.ffn_out_weight);
    fill_zero(ctx, d_pre);
    gelu_backward(ctx, d_pre, d_act, a.ffn_pre);
    matmul_backward(ctx, d_ffn_in, g.ffn_in_weight, g.ffn_in_bias, d_pre, ffn_in, p.ffn_in_weight);
  }

  // Attention branch: d_branch is the gradient of attn_proj (after dropout); accumulates
  // the gradient of the attention input into d_attn_in.
  void attention(const Tensor& d_branch, const Tensor& attn_in, const Tensor& d_attn_in) {
    const Tensor d_proj = before_dropout(d_branch, dropout_site_attn_proj(layer));
    const Tensor d_attn = scratch(s.d_attn), d_qkv = scratch(s.d_qkv);
    fill_zero(ctx, d_attn);
    matmul_backward(ctx, d_attn, g.attn_out_weight, g.attn_out_bias, d_proj, a.attn, p.attn_out_weight);
    fill_zero(ctx, d_qkv);
    attention_backward(ctx, d_qkv, d_attn, a.attn, a.qkv, a.attn_lse, cu_seqlens, static_cast<int>(cfg.num_heads),
                       attention_p(cfg, dropout),
                       site_key(dropout, RngStream::ATTENTION_DROPOUT, static_cast<uint32_t>(layer)));
    matmul_backward(ctx, d_attn_in, g.qkv_weight, g.qkv_bias, d_qkv, attn_in, p.qkv_weight);
  }

  // d: gradient of the layer output; d_in (zeroed): receives the gradient of its input x.
  void run(const Tensor& d, const Tensor& x, const Tensor& d_in) {
    const Tensor d_res = scratch(s.d_res), d_ln = scratch(s.d_ln);
    if (!cfg.pre_layernorm) {
      // out = ln2 = LN(res2), res2 = ln1 + ffn(ln1), ln1 = LN(res1), res1 = x + attn(x)
      fill_zero(ctx, d_res);
      layernorm_backward(ctx, d_res, g.ln2_weight, g.ln2_bias, d, a.res2, p.ln2_weight, a.ln2_mean, a.ln2_rstd);
      fill_zero(ctx, d_ln);
      add_inplace(ctx, d_ln, d_res);
      ffn(d_res, a.ln1, d_ln);
      fill_zero(ctx, d_res);
      layernorm_backward(ctx, d_res, g.ln1_weight, g.ln1_bias, d_ln, a.res1, p.ln1_weight, a.ln1_mean, a.ln1_rstd);
      add_inplace(ctx, d_in, d_res);
      attention(d_res, x, d_in);
    } else {
      // out = res2 = res1 + ffn(LN2(res1)), res1 = x + attn(LN1(x)). The gradient of res1
      // is built in d_in, which the residual path to x passes on unchanged.
      add_inplace(ctx, d_in, d);
      fill_zero(ctx, d_ln);
      ffn(d, a.ln2, d_ln);
      layernorm_backward(ctx, d_in, g.ln2_weight, g.ln2_bias, d_ln, a.res1, p.ln2_weight, a.ln2_mean, a.ln2_rstd);
      fill_zero(ctx, d_ln);
      attention(d_in, a.ln1, d_ln);
      layernorm_backward(ctx, d_in, g.ln1_weight, g.ln1_bias, d_ln, x, p.ln1_weight, a.ln1_mean, a.ln1_rstd);
    }
  }
};

}  // namespace

RngKey site_key(const DropoutPlan& d, RngStream stream, uint32_t site) {
  RngKey k = d.key;
  k.stream = stream;
  k.substream = site;
  return k;
}

float hidden_p(const ModelConfig& cfg, const DropoutPlan& d) {
  return d.training ? static_cast<float>(cfg.hidden_dropout) : 0.0f;
}

Tensor embeddings_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params,
                          const EmbeddingActivations& emb, const Tensor& zero_types, const BatchTensors& batch,
                          const DropoutPlan& dropout, uint32_t dropout_site) {
  MASKLM_CHECK(dropout_site < kEmbeddingDropoutSites, "embedding dropout site {} out of range", dropout_site);
  const int64_t n = batch.num_tokens;
  const Tensor sum = emb.sum.rows(0, n), out = emb.out.rows(0, n);
  embedding_forward(ctx, sum, batch.tokens, batch.positions, batch_types(cfg, zero_types, batch),
                    params.word_embeddings, params.position_embeddings, params.type_embeddings);
  layernorm_forward(ctx, out, emb.mean.rows(0, n), emb.rstd.rows(0, n), sum, params.emb_ln_weight,
                    params.emb_ln_bias, cfg.layer_norm_eps);
  dropout_inplace(ctx, out, hidden_p(cfg, dropout), site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site));
  return out;
}

void embeddings_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                         const EmbeddingActivations& emb, const Tensor& zero_types, GradScratch& scratch,
                         const BatchTensors& batch, const DropoutPlan& dropout, uint32_t dropout_site,
                         const Tensor& d_out) {
  const int64_t n = batch.num_tokens;
  const Tensor d_ln = dropout_grad(ctx, d_out, hidden_p(cfg, dropout),
                                   site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site), scratch.d_tmp.rows(0, n));
  const Tensor d_sum = scratch.d_res.rows(0, n);
  fill_zero(ctx, d_sum);
  layernorm_backward(ctx, d_sum, grads.emb_ln_weight, grads.emb_ln_bias, d_ln, emb.sum.rows(0, n),
                     params.emb_ln_weight, emb.mean.rows(0, n), emb.rstd.rows(0, n));
  embedding_backward(ctx, grads.word_embeddings, grads.position_embeddings, grads.type_embeddings, d_sum,
                     batch.tokens, batch.positions, batch_types(cfg, zero_types, batch));
}

Tensor stack_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts, Stack stack,
                     const Tensor& input, const Tensor& cu_seqlens, const DropoutPlan& dropout) {
  const int64_t n = input.size(0);
  const double eps = cfg.layer_norm_eps;
  const float p_hidden = hidden_p(cfg, dropout);
  const StackParts parts = stack_parts(cfg, params, stack);
  const std::vector<LayerActivations>& layer_acts = stack_acts(acts, stack);
  const bool final_norm = !parts.final_ln_weight.empty();
  Tensor x = input;
  bool ln1_done = false;    // pre-LN: this layer's ln1 came with the previous layer's residual add
  bool final_done = false;  // and the stack's final LayerNorm with the last one
  for (size_t l = 0; l < parts.layers.size(); ++l) {
    const int64_t layer = parts.first_layer + static_cast<int64_t>(l);
    const LayerParams& p = parts.layers[l];
    const LayerActivations a = batch_rows(layer_acts[l], n, cfg.num_heads);
    Tensor attn_in = x;
    if (cfg.pre_layernorm) {
      if (!ln1_done)
        layernorm_forward(ctx, a.ln1, a.ln1_mean, a.ln1_rstd, x, p.ln1_weight, p.ln1_bias, eps);
      attn_in = a.ln1;
    }
    matmul_forward(ctx, a.qkv, attn_in, p.qkv_weight, p.qkv_bias);
    attention_forward(ctx, a.attn, a.attn_lse, a.qkv, cu_seqlens, static_cast<int>(cfg.num_heads),
                      attention_p(cfg, dropout),
                      site_key(dropout, RngStream::ATTENTION_DROPOUT, static_cast<uint32_t>(layer)));
    matmul_forward(ctx, a.attn_proj, a.attn, p.attn_out_weight, p.attn_out_bias);
    dropout_inplace(ctx, a.attn_proj, p_hidden, site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_attn_proj(layer)));

    Tensor ffn_in;
    if (cfg.pre_layernorm) {
      residual_layernorm_forward(ctx, a.res1, a.ln2, a.ln2_mean, a.ln2_rstd, x, a.attn_proj,
                                 p.ln2_weight, p.ln2_bias, eps);
      ffn_in = a.ln2;
    } else {
      residual_layernorm_forward(ctx, a.res1, a.ln1, a.ln1_mean, a.ln1_rstd, x, a.attn_proj,
                                 p.ln1_weight, p.ln1_bias, eps);
      ffn_in = a.ln1;
    }
    matmul_forward(ctx, a.ffn_pre, ffn_in, p.ffn_in_weight, p.ffn_in_bias);
    gelu_forward(ctx, a.ffn_act, a.ffn_pre);
    matmul_forward(ctx, a.ffn_out, a.ffn_act, p.ffn_out_weight, p.ffn_out_bias);
    dropout_inplace(ctx, a.ffn_out, p_hidden, site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_ffn_out(layer)));
    if (cfg.pre_layernorm) {
      ln1_done = l + 1 < parts.layers.size();
      if (ln1_done) {  // the next layer's first LayerNorm, fused with this residual add
        const LayerParams& next = parts.layers[l + 1];
        const LayerActivations na = batch_rows(layer_acts[l + 1], n, cfg.num_heads);
        residual_layernorm_forward(ctx, a.res2, na.ln1, na.ln1_mean, na.ln1_rstd, a.res1,
                                   a.ffn_out, next.ln1_weight, next.ln1_bias, eps);
      } else if (final_norm) {  // the stack's final LayerNorm, fused with the last residual add
        const NormActivations& norm = stack_norm(acts, stack);
        residual_layernorm_forward(ctx, a.res2, norm.out.rows(0, n), norm.mean.rows(0, n),
                                   norm.rstd.rows(0, n), a.res1, a.ffn_out, parts.final_ln_weight,
                                   parts.final_ln_bias, eps);
        final_done = true;
      } else {
        residual_forward(ctx, a.res2, a.res1, a.ffn_out);
      }
      x = a.res2;
    } else {
      residual_layernorm_forward(ctx, a.res2, a.ln2, a.ln2_mean, a.ln2_rstd, a.ln1, a.ffn_out,
                                 p.ln2_weight, p.ln2_bias, eps);
      x = a.ln2;
    }
  }
  if (final_norm) {
    const NormActivations& norm = stack_norm(acts, stack);
    const Tensor out = norm.out.rows(0, n);
    if (!final_done)
      layernorm_forward(ctx, out, norm.mean.rows(0, n), norm.rstd.rows(0, n), x, parts.final_ln_weight,
                        parts.final_ln_bias, eps);
    x = out;
  }
  return x;
}

Tensor stack_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, Stack stack, const Tensor& input,
                      const Tensor& cu_seqlens, const DropoutPlan& dropout, const Tensor& d_out,
                      const GradsReady& ready) {
  const int64_t n = input.size(0);
  const StackParts parts = stack_parts(cfg, params, stack), grad_parts = stack_parts(cfg, grads, stack);
  const std::vector<LayerActivations>& layer_acts = stack_acts(acts, stack);
  const int64_t layers = static_cast<int64_t>(parts.layers.size());
  const Tensor stream_a = scratch.d_stream_a.rows(0, n), stream_b = scratch.d_stream_b.rows(0, n);
  // The residual-stream gradient alternates between two buffers, layer by layer.
  auto other = [&](const Tensor& d) { return d.data == stream_a.data ? stream_b : stream_a; };

  Tensor d = d_out;
  if (!parts.final_ln_weight.empty()) {
    const NormActivations& norm = stack_norm(acts, stack);
    const Tensor d_x = other(d);
    fill_zero(ctx, d_x);
    layernorm_backward(ctx, d_x, grad_parts.final_ln_weight, grad_parts.final_ln_bias, d,
                       layer_input(cfg, layer_acts, input, layers), parts.final_ln_weight, norm.mean.rows(0, n),
                       norm.rstd.rows(0, n));
    d = d_x;
  }
  for (int64_t l = layers - 1; l >= 0; --l) {
    const size_t li = static_cast<size_t>(l);
    const LayerActivations a = batch_rows(layer_acts[li], n, cfg.num_heads);
    const Tensor d_in = other(d);
    fill_zero(ctx, d_in);
    LayerBackward{ctx, cfg, parts.layers[li], grad_parts.layers[li], a, scratch, cu_seqlens, n, dropout,
                  parts.first_layer + l}
        .run(d, layer_input(cfg, layer_acts, input, l), d_in);
    d = d_in;
    if (ready) ready(first_tensor(cfg, grad_parts.layers[li]));
  }
  return d;
}

Tensor encoder_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                       const BatchTensors& batch, const DropoutPlan& dropout) {
  const Tensor x = embeddings_forward(ctx, cfg, params, acts.emb, acts.zero_types, batch, dropout, 0);
  return stack_forward(ctx, cfg, params, acts, Stack::ENCODER, x, batch.cu_seqlens, dropout);
}

void encoder_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, const BatchTensors& batch,
                      const DropoutPlan& dropout, const Tensor& d_out, const GradsReady& ready) {
  const Tensor x = acts.emb.out.rows(0, batch.num_tokens);
  const Tensor d_x = stack_backward(ctx, cfg, params, grads, acts, scratch, Stack::ENCODER, x, batch.cu_seqlens,
                                    dropout, d_out, ready);
  embeddings_backward(ctx, cfg, params, grads, acts.emb, acts.zero_types, scratch, batch, dropout, 0, d_x);
}

}  // namespace masklm
