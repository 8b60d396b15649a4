// Uniform masking (one token per unit, masking.strategy: uniform) on the GPU, with the CPU
// Masker's results for the same keys: each sequence draws the same Philox numbers in the
// same order (masking/sequence_rng.h), so the priority order, the probabilistic cuts and
// the [MASK]/random replacements come out identical, token for token. One thread masks one
// sequence, as the CPU does, so a batch of B sequences runs B threads; a micro-batch
// masks in microseconds either way, and the point is that batches can be built where the
// tokens already are. Built only with CUDA (masking/gpu_masker.cu).
#pragma once

#include <cstdint>

#include "kernels/ops.h"
#include "masking/masker.h"
#include "runtime/arena.h"

namespace masklm {

class GpuMasker {
 public:
  // Copies the masker's special-token table and replacement distribution to the GPU. Only
  // masking.strategy uniform (the others cut units with host-side rules).
  explicit GpuMasker(const Masker& masker);

  // For each sequence b of a flat batch, what masker.mask(its ids, rates, key,
  // first_sequence + b) computes. All tensors I32 on the GPU: ids, input, predicted and
  // corruption (N), cu_seqlens (B + 1). input is the corrupted sequence, predicted 0 or 1,
  // corruption a Corruption value (0 none, 1 [MASK], 2 random). Ids outside the vocabulary
  // and bad cu_seqlens are reported by the next synchronize(ctx).
  void mask(Ctx& ctx, const Tensor& input, const Tensor& predicted, const Tensor& corruption,
            const Tensor& ids, const Tensor& cu_seqlens, const MaskRates& rates, const RngKey& key,
            uint64_t first_sequence) const;

 private:
  int32_t vocab_size_, mask_id_;
  double random_share_;
  Arena tables_;                              // on the GPU:
  Tensor is_special_;                         // (V) I32 0/1
  Tensor replacement_ids_, replacement_cdf_;  // (K) I32, (K) F64; empty when unused
};

}  // namespace masklm
