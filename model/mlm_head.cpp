#include "model/mlm_head.h"

namespace masklm {

void mlm_head_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                      const BatchTensors& batch, const Tensor& encoder_out, int64_t vocab_chunk) {
  const int64_t P = batch.num_predictions;
  const Tensor in = acts.head_in.rows(0, P), pre = acts.head_pre.rows(0, P);
  const Tensor act = acts.head_act.rows(0, P), out = acts.head_out.rows(0, P);
  gather_rows(ctx, in, encoder_out, batch.predict_index);
  matmul_forward(ctx, pre, in, params.head_dense_weight, params.head_dense_bias);
  gelu_forward(ctx, act, pre);
  layernorm_forward(ctx, out, acts.head_mean.rows(0, P), acts.head_rstd.rows(0, P), act, params.head_ln_weight,
                    params.head_ln_bias, cfg.layer_norm_eps);
  mlm_xent_forward(ctx, acts.losses.rows(0, P), acts.lse.rows(0, P), acts.correct.rows(0, P), out,
                   params.word_embeddings, params.head_bias, batch.labels, vocab_chunk);
}

void mlm_head_backward(Ctx& ctx, const ModelParams& params, const ModelParams& grads,
                       const Activations& acts, GradScratch& s, const BatchTensors& batch,
                       const Tensor& d_encoder_out, int64_t vocab_chunk, double loss_scale) {
  const int64_t P = batch.num_predictions;
  const Tensor d_out = s.d_head_out.rows(0, P), d_act = s.d_head_act.rows(0, P);
  const Tensor d_pre = s.d_head_pre.rows(0, P), d_in = s.d_head_in.rows(0, P);
  fill_zero(ctx, d_out);
  mlm_xent_backward(ctx, d_out, grads.word_embeddings, grads.head_bias, acts.head_out.rows(0, P),
                    params.word_embeddings, params.head_bias, batch.labels, acts.lse.rows(0, P),
                    loss_scale / static_cast<double>(P), vocab_chunk);
  fill_zero(ctx, d_act);
  layernorm_backward(ctx, d_act, grads.head_ln_weight, grads.head_ln_bias, d_out, acts.head_act.rows(0, P),
                     params.head_ln_weight, acts.head_mean.rows(0, P), acts.head_rstd.rows(0, P));
  fill_zero(ctx, d_pre);
  gelu_backward(ctx, d_pre, d_act, acts.head_pre.rows(0, P));
  fill_zero(ctx, d_in);
  matmul_backward(ctx, d_in, grads.head_dense_weight, grads.head_dense_bias, d_pre, acts.head_in.rows(0, P),
                  params.head_dense_weight);
  scatter_add_rows(ctx, d_encoder_out, d_in, batch.predict_index);
}

void mlm_head_logits(Ctx& ctx, const ModelParams& params, const Activations& acts, int64_t num_predictions,
                     const Tensor& logits) {
  matmul_forward(ctx, logits, acts.head_out.rows(0, num_predictions), params.word_embeddings, params.head_bias);
}

}  // namespace masklm
