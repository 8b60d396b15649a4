// What every fine-tuning model shares: the pretrained encoder with a task head on top.
// Parameters live in one flat buffer (the encoder in the layout of model/params.h, its MLM
// head included but unused, then the head's tensors), gradients in a second buffer of the
// same layout, activations and the head's output logits in a third, all sized once for the
// largest batch, so forward() and backward() of the models built on it allocate nothing.
// The task models (model/sequence_classifier.h, model/span_extraction.h) add their head's
// forward, loss and backward. On the CPU or a GPU: the buffers live on the model's device,
// and the heads' small outputs (B x K logits, or N x 2 span logits) come to the host, where
// the task losses and predictions read them as F32 (F64 in gradient checks) values.
//
// In F32 or in BF16/F16 mixed precision (fp32 master weights and gradients, a 16-bit compute
// copy of the weights that forward and backward read, 16-bit activations beside F32
// statistics: model/compute_copy.h, as pretraining computes); in F16 the task models'
// backward takes the loss scale of the fine-tuning loop's dynamic loss scaling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/batch.h"
#include "model/batch_arrays.h"
#include "model/compute_copy.h"
#include "model/encoder.h"
#include "model/host_staging.h"

namespace masklm {

// One head tensor: its Hugging Face name ("qa_outputs.weight"), shape, init, weight decay.
struct HeadParamSpec {
  std::string name;
  Shape shape;
  ParamInit init;
  bool weight_decay;
};

// The encoder's parameters followed by the head's, with one table over both, so the
// optimizer walks them as one flat buffer.
ParamLayout layout_finetune_params(const ModelConfig& config,
                                   const std::vector<HeadParamSpec>& head, Arena& arena,
                                   DType dtype);

class FineTuneEncoder {
 public:
  // Random encoder and head (tests and training from scratch).
  void init_weights(uint64_t seed);
  // Encoder weights from a masklm checkpoint (or any model.safetensors with masklm's
  // parameter names); the head keeps its initialization. Call after init_weights().
  void load_encoder(const std::filesystem::path& checkpoint_dir);
  // As MlmModel's: whoever writes the parameters other than through these two or the
  // optimizer's update (a test through params()) says so, and the next forward refreshes
  // the bf16 compute copy from them.
  void master_weights_changed() { compute_copy_.mark_stale(); }
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }

  const ModelConfig& config() const { return config_; }
  const ParamLayout& params() const { return params_; }
  const ParamLayout& grads() const { return grads_; }
  // The 16-bit copy of params() that forward and backward read, or null in F32/F64; the
  // optimizer rewrites it with every update (train/optimizer.h).
  const ParamLayout* compute_copy() const { return compute_copy_.layout(); }
  const Arena& param_arena() const { return param_arena_; }
  const Arena& grad_arena() const { return grad_arena_; }
  // Of the parameters and gradients (F32 in mixed precision).
  DType dtype() const { return dtype_; }
  // Of the activations and the weights the kernels read.
  DType compute_dtype() const { return compute_dtype_; }
  Device device() const { return device_; }

 protected:
  // Up to capacity.max_tokens tokens in capacity.max_predictions sequences per batch;
  // `logits` is the shape of the head's output buffer (and of its gradient's).
  // compute_dtype F32, BF16, F16, or F64 (CPU only) for gradient checks.
  FineTuneEncoder(const ModelConfig& config, const std::vector<HeadParamSpec>& head,
                  Capacity capacity, Shape logits, DType compute_dtype, Device device);

  // The token ids of the largest batch the model takes: capacity.max_predictions sequences
  // (at most one per token) holding as many tokens as the capacity and
  // max_position_embeddings allow, their lengths differing by one at most.
  std::vector<std::vector<int32_t>> largest_batch_sequences() const;
  // On a GPU: runs `step`, the task's forward and backward on its largest batch, as
  // model/reservation.h says (so the op scratch and upload staging of the Ctx's CUDA
  // context reach their largest sizes at start-up); leaves the gradients zero. Nothing to do
  // on the CPU.
  void reserve_with(Ctx& ctx, const std::function<void(const DropoutPlan&)>& step);

  // Checks `seqs` against the model and its capacity and runs the encoder; returns its
  // (N, C) output. `seqs` must stay alive and unchanged until the backward.
  Tensor encode(Ctx& ctx, const Batch& seqs, const DropoutPlan& dropout);
  // The (N, C) gradient buffer of the encoder's output, zeroed, for the head to accumulate into.
  Tensor zeroed_encoder_grad(Ctx& ctx);
  // Accumulates the encoder's gradients from the buffer zeroed_encoder_grad() returned.
  void encode_backward(Ctx& ctx, const DropoutPlan& dropout, const Tensor& d_enc);

  // The first `rows` rows of the logits as host values (model/host_staging.h's read()).
  // Valid until the next call.
  Tensor host_logits(Ctx& ctx, int64_t rows);
  // The first `rows` rows of the logits' gradient, zeroed, as host values for a task loss
  // to accumulate into; upload_d_logits() then puts them where the head's backward reads
  // them and returns that view.
  Tensor zeroed_host_d_logits(int64_t rows);
  Tensor upload_d_logits(Ctx& ctx, const Tensor& host);

  // Head tensor i, in the order of the specs: the weights the kernels read (the compute
  // copy's in mixed precision), or the gradients.
  const Tensor& head_param(size_t i) const { return weights().table[head_begin_ + i].view; }
  const Tensor& head_grad(size_t i) const { return grads_.table[head_begin_ + i].view; }

  ModelConfig config_;
  DType compute_dtype_, dtype_;
  Activations acts_;  // the encoder's, plus (B, ...) rows of the head buffers for the tasks' use
  GradScratch scratch_;
  Tensor logits_, d_logits_;
  BatchTensors batch_;

 private:
  const ParamLayout& weights() const { return compute_copy_.weights(params_); }

  Device device_;
  Capacity capacity_;
  Arena param_arena_, grad_arena_, act_arena_;
  BatchArrays batch_arrays_;
  HostStaging logits_staging_, d_logits_staging_;
  ParamLayout params_, grads_;
  ComputeCopy compute_copy_;  // mixed precision only
  size_t head_begin_ = 0;  // the first head entry of the tables
};

}  // namespace masklm
