#include "model/skip_corrupted.h"

namespace masklm {

namespace {
// Embedding dropout sites (encoder.h): the encoder's input is site 0, the decoder's
// [MASK] embeddings site 1.
constexpr uint32_t kMaskEmbeddingDropoutSite = 1;
}  // namespace

std::array<std::vector<int32_t>*, SkipSplit::kArrays> SkipSplit::arrays() {
  return {&kept_index,      &masked_index, &kept_tokens,    &kept_positions, &kept_types,
          &kept_cu_seqlens, &mask_tokens,  &mask_positions, &mask_types};
}

void SkipSplit::reserve(int64_t max_tokens, Device device) {
  const auto n = static_cast<size_t>(max_tokens) + 1;  // kept_cu_seqlens: B + 1 <= N + 1
  for (auto* v : arrays()) v->reserve(n);
  if (device == Device::CPU) return;
  const size_t count = arrays().size();
  device_arena_ = Arena(count * (n * sizeof(int32_t) + kArenaAlignment), device);
  for (size_t k = 0; k < count; ++k)
    device_buffers_.push_back(device_arena_.alloc({static_cast<int64_t>(n)}, DType::I32));
}

// Array `k` of arrays() as the ops read it: the host vector itself, or the first rows of its
// device buffer (which split() then uploads it into).
Tensor SkipSplit::view(size_t k) {
  const std::vector<int32_t>& v = *arrays()[k];
  const auto n = static_cast<int64_t>(v.size());
  // (n) ids also when n is 0 (nothing corrupted, or nothing kept): the ops check shapes.
  // The CPU ops read the vector in place and never write through it.
  if (device_buffers_.empty()) return host_tensor(const_cast<int32_t*>(v.data()), Shape{n});
  return device_buffers_[k].rows(0, n);
}

void SkipSplit::split(Ctx& ctx, const ModelConfig& cfg, const Batch& batch) {
  for (auto* v : arrays()) v->clear();
  kept_cu_seqlens.push_back(0);
  for (size_t b = 0; b + 1 < batch.cu_seqlens.size(); ++b) {
    for (int32_t i = batch.cu_seqlens[b]; i < batch.cu_seqlens[b + 1]; ++i) {
      const auto k = static_cast<size_t>(i);
      const int32_t type = batch.types.empty() ? 0 : batch.types[k];
      if (!batch.corrupted.empty() && batch.corrupted[k]) {
        masked_index.push_back(i);
        mask_tokens.push_back(static_cast<int32_t>(cfg.mask_token_id));
        mask_positions.push_back(batch.positions[k]);
        mask_types.push_back(type);
      } else {
        kept_index.push_back(i);
        kept_tokens.push_back(batch.tokens[k]);
        kept_positions.push_back(batch.positions[k]);
        kept_types.push_back(type);
      }
    }
    kept_cu_seqlens.push_back(static_cast<int32_t>(kept_tokens.size()));
  }
  std::array<Tensor, kArrays> views;
  std::array<Upload, kArrays> copies;
  for (size_t k = 0; k < kArrays; ++k) {
    views[k] = view(k);
    if (views[k].device != Device::CPU && views[k].numel() > 0)
      copies[k] = Upload{views[k], host_view(*arrays()[k])};
  }
  upload(ctx, copies);
  // Indices into arrays().
  kept_rows = views[0];
  masked_rows = views[1];
  const bool types = cfg.type_vocab_size > 0;
  kept = BatchTensors{views[2],
                      views[3],
                      types ? views[4] : Tensor{},
                      views[5],
                      Tensor{},
                      Tensor{},
                      static_cast<int64_t>(kept_tokens.size()),
                      0};
  masked = BatchTensors{views[6],
                        views[7],
                        types ? views[8] : Tensor{},
                        Tensor{},
                        Tensor{},
                        Tensor{},
                        static_cast<int64_t>(mask_tokens.size()),
                        0};
}

Tensor skip_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                    const BatchTensors& batch, const SkipSplit& split, const DropoutPlan& dropout) {
  const Tensor decoder_in = acts.decoder_in.rows(0, batch.num_tokens);
  fill_zero(ctx, decoder_in);
  const Tensor encoded = encoder_forward(ctx, cfg, params, acts, split.kept, dropout);
  scatter_add_rows(ctx, decoder_in, encoded, split.kept_rows);
  if (split.masked.num_tokens > 0) {
    const Tensor masked = embeddings_forward(ctx, cfg, params, acts.mask_emb, acts.zero_types, split.masked, dropout,
                                             kMaskEmbeddingDropoutSite);
    scatter_add_rows(ctx, decoder_in, masked, split.masked_rows);
  }
  return stack_forward(ctx, cfg, params, acts, Stack::DECODER, decoder_in, batch.cu_seqlens, dropout);
}

void skip_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                   const Activations& acts, GradScratch& scratch, const BatchTensors& batch, const SkipSplit& split,
                   const DropoutPlan& dropout, const Tensor& d_out, const GradsReady& ready) {
  const Tensor d_in = stack_backward(ctx, cfg, params, grads, acts, scratch, Stack::DECODER,
                                     acts.decoder_in.rows(0, batch.num_tokens), batch.cu_seqlens, dropout, d_out,
                                     ready);
  // Both gathers finish before the embedding and encoder backwards reuse the scratch.
  const Tensor d_kept = scratch.d_encoder_out.rows(0, split.kept.num_tokens);
  const Tensor d_masked = scratch.d_mask_emb.rows(0, split.masked.num_tokens);
  gather_rows(ctx, d_kept, d_in, split.kept_rows);
  if (split.masked.num_tokens > 0) {
    gather_rows(ctx, d_masked, d_in, split.masked_rows);
    embeddings_backward(ctx, cfg, params, grads, acts.mask_emb, acts.zero_types, scratch, split.masked, dropout,
                        kMaskEmbeddingDropoutSite, d_masked);
  }
  encoder_backward(ctx, cfg, params, grads, acts, scratch, split.kept, dropout, d_kept, ready);
}

}  // namespace masklm
