#include "model/encoder.h"

namespace masklm {

namespace {

// Dropout sites: the embedding output, then two per layer (attention projection, FFN).
uint32_t dropout_site_embedding() { return 0; }
uint32_t dropout_site_attn_proj(int64_t layer) { return static_cast<uint32_t>(1 + 2 * layer); }
uint32_t dropout_site_ffn_out(int64_t layer) { return static_cast<uint32_t>(2 + 2 * layer); }

RngKey site_key(const DropoutPlan& d, RngStream stream, uint32_t site) {
  RngKey k = d.key;
  k.stream = stream;
  k.substream = site;
  return k;
}

float hidden_p(const ModelConfig& cfg, const DropoutPlan& d) {
  return d.training ? static_cast<float>(cfg.hidden_dropout) : 0.0f;
}
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

Tensor batch_types(const ModelConfig& cfg, const Activations& acts, const BatchTensors& b) {
  if (!b.types.empty() || cfg.type_vocab_size == 0) return b.types;
  return acts.zero_types.rows(0, b.num_tokens);  // Hugging Face's default: every token type 0
}

// Layer input for layer l: the embedding output or the previous layer's output.
Tensor layer_input(const ModelConfig& cfg, const Activations& acts, int64_t l, int64_t n) {
  if (l == 0) return acts.emb_out.rows(0, n);
  const LayerActivations& prev = acts.layers[static_cast<size_t>(l - 1)];
  return (cfg.pre_layernorm ? prev.res2 : prev.ln2).rows(0, n);
}

struct LayerBackward {
  Ctx& ctx;
  const ModelConfig& cfg;
  const LayerParams& p;
  const LayerParams& g;
  const LayerActivations& a;
  GradScratch& s;
  const BatchTensors& batch;
  const DropoutPlan& dropout;
  int64_t layer;

  Tensor scratch(const Tensor& buf) const { return buf.rows(0, batch.num_tokens); }

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
    attention_backward(ctx, d_qkv, d_attn, a.attn, a.qkv, a.attn_lse, batch.cu_seqlens, static_cast<int>(cfg.num_heads),
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
      // out = res2 = res1 + ffn(LN2(res1)), res1 = x + attn(LN1(x))
      fill_zero(ctx, d_res);
      add_inplace(ctx, d_res, d);
      fill_zero(ctx, d_ln);
      ffn(d, a.ln2, d_ln);
      layernorm_backward(ctx, d_res, g.ln2_weight, g.ln2_bias, d_ln, a.res1, p.ln2_weight, a.ln2_mean, a.ln2_rstd);
      add_inplace(ctx, d_in, d_res);
      fill_zero(ctx, d_ln);
      attention(d_res, a.ln1, d_ln);
      layernorm_backward(ctx, d_in, g.ln1_weight, g.ln1_bias, d_ln, x, p.ln1_weight, a.ln1_mean, a.ln1_rstd);
    }
  }
};

}  // namespace

Tensor encoder_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                       const BatchTensors& batch, const DropoutPlan& dropout) {
  const int64_t n = batch.num_tokens;
  const double eps = cfg.layer_norm_eps;
  const float p_hidden = hidden_p(cfg, dropout);
  const Tensor emb_sum = acts.emb_sum.rows(0, n), emb_out = acts.emb_out.rows(0, n);
  embedding_forward(ctx, emb_sum, batch.tokens, batch.positions, batch_types(cfg, acts, batch),
                    params.word_embeddings, params.position_embeddings, params.type_embeddings);
  layernorm_forward(ctx, emb_out, acts.emb_mean.rows(0, n), acts.emb_rstd.rows(0, n), emb_sum,
                    params.emb_ln_weight, params.emb_ln_bias, eps);
  dropout_inplace(ctx, emb_out, p_hidden, site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_embedding()));

  Tensor x = emb_out;
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    const LayerParams& p = params.layers[static_cast<size_t>(l)];
    const LayerActivations a = batch_rows(acts.layers[static_cast<size_t>(l)], n, cfg.num_heads);
    Tensor attn_in = x;
    if (cfg.pre_layernorm) {
      layernorm_forward(ctx, a.ln1, a.ln1_mean, a.ln1_rstd, x, p.ln1_weight, p.ln1_bias, eps);
      attn_in = a.ln1;
    }
    matmul_forward(ctx, a.qkv, attn_in, p.qkv_weight, p.qkv_bias);
    attention_forward(ctx, a.attn, a.attn_lse, a.qkv, batch.cu_seqlens, static_cast<int>(cfg.num_heads),
                      attention_p(cfg, dropout),
                      site_key(dropout, RngStream::ATTENTION_DROPOUT, static_cast<uint32_t>(l)));
    matmul_forward(ctx, a.attn_proj, a.attn, p.attn_out_weight, p.attn_out_bias);
    dropout_inplace(ctx, a.attn_proj, p_hidden, site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_attn_proj(l)));
    residual_forward(ctx, a.res1, x, a.attn_proj);

    Tensor ffn_in;
    if (cfg.pre_layernorm) {
      layernorm_forward(ctx, a.ln2, a.ln2_mean, a.ln2_rstd, a.res1, p.ln2_weight, p.ln2_bias, eps);
      ffn_in = a.ln2;
    } else {
      layernorm_forward(ctx, a.ln1, a.ln1_mean, a.ln1_rstd, a.res1, p.ln1_weight, p.ln1_bias, eps);
      ffn_in = a.ln1;
    }
    matmul_forward(ctx, a.ffn_pre, ffn_in, p.ffn_in_weight, p.ffn_in_bias);
    gelu_forward(ctx, a.ffn_act, a.ffn_pre);
    matmul_forward(ctx, a.ffn_out, a.ffn_act, p.ffn_out_weight, p.ffn_out_bias);
    dropout_inplace(ctx, a.ffn_out, p_hidden, site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_ffn_out(l)));
    if (cfg.pre_layernorm) {
      residual_forward(ctx, a.res2, a.res1, a.ffn_out);
      x = a.res2;
    } else {
      residual_forward(ctx, a.res2, a.ln1, a.ffn_out);
      layernorm_forward(ctx, a.ln2, a.ln2_mean, a.ln2_rstd, a.res2, p.ln2_weight, p.ln2_bias, eps);
      x = a.ln2;
    }
  }
  if (cfg.pre_layernorm) {
    const Tensor out = acts.final_out.rows(0, n);
    layernorm_forward(ctx, out, acts.final_mean.rows(0, n), acts.final_rstd.rows(0, n), x,
                      params.final_ln_weight, params.final_ln_bias, eps);
    x = out;
  }
  return x;
}

void encoder_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                      const Activations& acts, GradScratch& scratch, const BatchTensors& batch,
                      const DropoutPlan& dropout, const Tensor& d_out) {
  const int64_t n = batch.num_tokens;
  const Tensor stream_a = scratch.d_stream_a.rows(0, n), stream_b = scratch.d_stream_b.rows(0, n);
  // The residual-stream gradient alternates between two buffers, layer by layer.
  auto other = [&](const Tensor& d) { return d.data == stream_a.data ? stream_b : stream_a; };

  Tensor d = d_out;
  if (cfg.pre_layernorm) {
    const Tensor d_x = other(d);
    fill_zero(ctx, d_x);
    layernorm_backward(ctx, d_x, grads.final_ln_weight, grads.final_ln_bias, d, layer_input(cfg, acts, cfg.num_layers, n),
                       params.final_ln_weight, acts.final_mean.rows(0, n), acts.final_rstd.rows(0, n));
    d = d_x;
  }
  for (int64_t l = cfg.num_layers - 1; l >= 0; --l) {
    const size_t li = static_cast<size_t>(l);
    const LayerActivations a = batch_rows(acts.layers[li], n, cfg.num_heads);
    const Tensor d_in = other(d);
    fill_zero(ctx, d_in);
    LayerBackward{ctx, cfg, params.layers[li], grads.layers[li], a, scratch, batch, dropout, l}.run(
        d, layer_input(cfg, acts, l, n), d_in);
    d = d_in;
  }
  const Tensor d_ln = dropout_grad(ctx, d, hidden_p(cfg, dropout),
                                   site_key(dropout, RngStream::HIDDEN_DROPOUT, dropout_site_embedding()),
                                   scratch.d_tmp.rows(0, n));
  const Tensor d_sum = scratch.d_res.rows(0, n);
  fill_zero(ctx, d_sum);
  layernorm_backward(ctx, d_sum, grads.emb_ln_weight, grads.emb_ln_bias, d_ln, acts.emb_sum.rows(0, n),
                     params.emb_ln_weight, acts.emb_mean.rows(0, n), acts.emb_rstd.rows(0, n));
  embedding_backward(ctx, grads.word_embeddings, grads.position_embeddings, grads.type_embeddings, d_sum,
                     batch.tokens, batch.positions, batch_types(cfg, acts, batch));
}

}  // namespace masklm
