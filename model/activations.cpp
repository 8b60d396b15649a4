#include "model/activations.h"

namespace masklm {

void layout_activations(const ModelConfig& config, Capacity cap, Arena& arena, DType dtype,
                        Activations& a, GradScratch& s) {
  const int64_t N = cap.max_tokens, P = cap.max_predictions;
  const int64_t C = config.hidden_size, F = config.intermediate_size, NH = config.num_heads;
  MASKLM_CHECK(N > 0 && P > 0, "capacity needs at least one token and one prediction (got {} and {})", N, P);
  auto nc = [&] { return arena.alloc({N, C}, dtype); };
  auto n = [&] { return arena.alloc({N}, dtype); };
  auto pc = [&] { return arena.alloc({P, C}, dtype); };

  a.emb_sum = nc();
  a.emb_out = nc();
  a.emb_mean = n();
  a.emb_rstd = n();
  a.layers.assign(static_cast<size_t>(config.num_layers), {});
  for (LayerActivations& l : a.layers) {
    l.ln1 = nc(), l.ln1_mean = n(), l.ln1_rstd = n();
    l.qkv = arena.alloc({N, 3 * C}, dtype);
    l.attn = nc();
    l.attn_lse = arena.alloc({NH * N}, dtype);
    l.attn_proj = nc(), l.res1 = nc();
    l.ln2 = nc(), l.ln2_mean = n(), l.ln2_rstd = n();
    l.ffn_pre = arena.alloc({N, F}, dtype), l.ffn_act = arena.alloc({N, F}, dtype);
    l.ffn_out = nc(), l.res2 = nc();
  }
  if (config.pre_layernorm) a.final_out = nc(), a.final_mean = n(), a.final_rstd = n();
  a.head_in = pc(), a.head_pre = pc(), a.head_act = pc();
  a.head_out = pc(), a.head_mean = arena.alloc({P}, dtype), a.head_rstd = arena.alloc({P}, dtype);
  a.losses = arena.alloc({P}, dtype), a.lse = arena.alloc({P}, dtype);
  a.correct = arena.alloc({P}, DType::I32);
  a.zero_types = arena.alloc({N}, DType::I32);

  s.d_stream_a = nc(), s.d_stream_b = nc();
  s.d_res = nc(), s.d_ln = nc(), s.d_tmp = nc(), s.d_attn = nc();
  s.d_qkv = arena.alloc({N, 3 * C}, dtype);
  s.d_ffn_act = arena.alloc({N, F}, dtype), s.d_ffn_pre = arena.alloc({N, F}, dtype);
  s.d_head_out = pc(), s.d_head_act = pc(), s.d_head_pre = pc(), s.d_head_in = pc();
}

}  // namespace masklm
