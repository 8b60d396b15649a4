#include "model/activations.h"

#include "kernels/dispatch.h"

namespace masklm {

void layout_activations(const ModelConfig& config, Capacity cap, Arena& arena, DType dtype,
                        Activations& a, GradScratch& s) {
  const int64_t N = cap.max_tokens, P = cap.max_predictions;
  const int64_t C = config.hidden_size, F = config.intermediate_size, NH = config.num_heads;
  MASKLM_CHECK(N > 0 && P > 0, "capacity needs at least one token and one prediction (got {} and {})", N, P);
  auto nc = [&] { return arena.alloc({N, C}, dtype); };
  // What stays in full precision beside 16-bit activations: LayerNorm statistics, lse, losses.
  const DType full = accum_dtype(dtype);
  auto n = [&] { return arena.alloc({N}, full); };
  auto pc = [&] { return arena.alloc({P, C}, dtype); };

  auto embedding = [&] { return EmbeddingActivations{nc(), nc(), n(), n()}; };
  auto norm = [&] { return NormActivations{nc(), n(), n()}; };
  auto layer_stack = [&](int64_t count) {
    std::vector<LayerActivations> layers(static_cast<size_t>(count));
    for (LayerActivations& l : layers) {
      l.ln1 = nc(), l.ln1_mean = n(), l.ln1_rstd = n();
      l.qkv = arena.alloc({N, 3 * C}, dtype);
      l.attn = nc();
      l.attn_lse = arena.alloc({NH * N}, full);
      l.attn_proj = nc(), l.res1 = nc();
      l.ln2 = nc(), l.ln2_mean = n(), l.ln2_rstd = n();
      l.ffn_pre = arena.alloc({N, F}, dtype), l.ffn_act = arena.alloc({N, F}, dtype);
      l.ffn_out = nc(), l.res2 = nc();
    }
    return layers;
  };

  a.emb = embedding();
  a.layers = layer_stack(config.num_layers);
  if (config.pre_layernorm) a.final_norm = norm();
  if (config.skip_corrupted) {
    a.mask_emb = embedding();
    a.decoder_in = nc();
    a.decoder_layers = layer_stack(config.decoder_layers);
    if (config.pre_layernorm && config.decoder_layers > 0) a.decoder_final_norm = norm();
  }
  a.head_in = pc(), a.head_pre = pc(), a.head_act = pc();
  a.head_out = pc(), a.head_mean = arena.alloc({P}, full), a.head_rstd = arena.alloc({P}, full);
  a.losses = arena.alloc({P}, full), a.lse = arena.alloc({P}, full);
  a.correct = arena.alloc({P}, DType::I32);
  a.zero_types = arena.alloc({N}, DType::I32);

  s.d_stream_a = nc(), s.d_stream_b = nc();
  s.d_res = nc(), s.d_ln = nc(), s.d_tmp = nc(), s.d_attn = nc();
  s.d_qkv = arena.alloc({N, 3 * C}, dtype);
  s.d_ffn_act = arena.alloc({N, F}, dtype), s.d_ffn_pre = arena.alloc({N, F}, dtype);
  s.d_head_out = pc(), s.d_head_act = pc(), s.d_head_pre = pc(), s.d_head_in = pc();
  if (config.skip_corrupted) s.d_encoder_out = nc(), s.d_mask_emb = nc();
}

}  // namespace masklm
