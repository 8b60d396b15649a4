// The skip-corrupted (MAE-style) MLM model (Wettig et al. 2023's closing suggestion; as in
// MAE-LM and 3ML): the encoder runs only on the uncorrupted tokens, so its cost falls with
// the corruption rate; a shallow decoder of model.decoder.layers blocks then sees the
// encoder outputs plus [MASK] embeddings (with their position ids) at the corrupted
// positions, in token order, and the sparse head predicts from the decoder output.
// With no decoder layers and nothing corrupted it is exactly the standard model.
#pragma once

#include <array>
#include <vector>

#include "model/encoder.h"
#include "model/batch.h"

namespace masklm {

// A batch split into the encoder's uncorrupted tokens and the [MASK] tokens the decoder
// places at the corrupted positions. Computed in host arrays, reserved once for the
// largest batch; on a GPU the arrays are then uploaded into device buffers of that size,
// and the tensors below view those.
struct SkipSplit {
  std::vector<int32_t> kept_index, masked_index;  // flat indices into the batch
  std::vector<int32_t> kept_tokens, kept_positions, kept_types, kept_cu_seqlens;
  std::vector<int32_t> mask_tokens, mask_positions, mask_types;
  BatchTensors kept, masked;      // what the encoder and the [MASK] embeddings read
  Tensor kept_rows, masked_rows;  // kept_index and masked_index, as the ops read them

  void reserve(int64_t max_tokens, Device device = Device::CPU);
  // Splits by batch.corrupted (nothing corrupted when it is empty). A sequence may lose all
  // its tokens; it stays in the encoder batch as an empty sequence. On a GPU the arrays are
  // uploaded on ctx's stream (kernels/ops.h's upload()).
  void split(Ctx& ctx, const ModelConfig& cfg, const Batch& batch);
  // The size of the device buffers, which no split() uploads more than.
  size_t device_bytes() const { return device_arena_.capacity(); }

 private:
  // The host arrays in a fixed order, and their device buffers (GPU only). A std::array
  // made on the stack: split() calls this for every view, and the step allocates nothing
  // (pointers kept in a member instead would dangle in a copy of the split).
  static constexpr size_t kArrays = 9;
  std::array<std::vector<int32_t>*, kArrays> arrays();
  Tensor view(size_t array);
  Arena device_arena_;
  std::vector<Tensor> device_buffers_;
};

// Returns the decoder output (N, C), which the MLM head reads.
Tensor skip_forward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, Activations& acts,
                    const BatchTensors& batch, const SkipSplit& split, const DropoutPlan& dropout);
// Accumulates all parameter gradients from d_out, the gradient of the decoder output.
void skip_backward(Ctx& ctx, const ModelConfig& cfg, const ModelParams& params, const ModelParams& grads,
                   const Activations& acts, GradScratch& scratch, const BatchTensors& batch, const SkipSplit& split,
                   const DropoutPlan& dropout, const Tensor& d_out, const GradsReady& ready = {});

}  // namespace masklm
