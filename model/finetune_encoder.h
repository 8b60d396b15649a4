// What every fine-tuning model shares: the pretrained encoder with a task head on top.
// Parameters live in one flat buffer (the encoder in the layout of model/params.h, its MLM
// head included but unused, then the head's tensors), gradients in a second buffer of the
// same layout, activations and the head's output logits in a third, all sized once for the
// largest batch, so forward() and backward() of the models built on it allocate nothing.
// The task models (model/sequence_classifier.h, model/span_extraction.h) add their head's
// forward, loss and backward. On the CPU or a GPU (in fp32 there): the buffers live on the
// model's device, and the heads' small outputs (B x K logits, or N x 2 span logits) come
// to the host, where the task losses and predictions read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/batch.h"
#include "model/batch_arrays.h"
#include "model/encoder.h"

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
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }

  const ModelConfig& config() const { return config_; }
  const ParamLayout& params() const { return params_; }
  const ParamLayout& grads() const { return grads_; }
  const Arena& param_arena() const { return param_arena_; }
  const Arena& grad_arena() const { return grad_arena_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

 protected:
  // Up to capacity.max_tokens tokens in capacity.max_predictions sequences per batch;
  // `logits` is the shape of the head's output buffer (and of its gradient's). dtype F32,
  // or F64 (CPU only) for gradient checks.
  FineTuneEncoder(const ModelConfig& config, const std::vector<HeadParamSpec>& head,
                  Capacity capacity, Shape logits, DType dtype, Device device);

  // Checks `seqs` against the model and its capacity and runs the encoder; returns its
  // (N, C) output. `seqs` must stay alive and unchanged until the backward.
  Tensor encode(Ctx& ctx, const Batch& seqs, const DropoutPlan& dropout);
  // The (N, C) gradient buffer of the encoder's output, zeroed, for the head to accumulate into.
  Tensor zeroed_encoder_grad(Ctx& ctx);
  // Accumulates the encoder's gradients from the buffer zeroed_encoder_grad() returned.
  void encode_backward(Ctx& ctx, const DropoutPlan& dropout, const Tensor& d_enc);

  // The first `rows` rows of the logits as host memory: the buffer itself on the CPU, on a
  // GPU a copy made once the work queued before has finished (and reported bad inputs).
  // Valid until the next call.
  Tensor host_logits(Ctx& ctx, int64_t rows);
  // The first `rows` rows of the logits' gradient, zeroed, as host memory for a task loss
  // to accumulate into; upload_d_logits() then puts them where the head's backward reads
  // them (nothing to do on the CPU) and returns that device view.
  Tensor zeroed_host_d_logits(Ctx& ctx, int64_t rows);
  Tensor upload_d_logits(const Tensor& host);
  // `t` readable on the host, as host_logits() makes the logits: itself on the CPU, on a
  // GPU a copy into `staging`, which must be large enough (sized once, at construction).
  Tensor host_copy(Ctx& ctx, const Tensor& t, std::vector<std::byte>& staging) const;

  // Head tensor i, in the order of the specs, among the parameters or the gradients.
  const Tensor& head_param(size_t i) const { return params_.table[head_begin_ + i].view; }
  const Tensor& head_grad(size_t i) const { return grads_.table[head_begin_ + i].view; }

  ModelConfig config_;
  DType dtype_;
  Activations acts_;  // the encoder's, plus (B, ...) rows of the head buffers for the tasks' use
  GradScratch scratch_;
  Tensor logits_, d_logits_;
  BatchTensors batch_;

 private:
  Device device_;
  Capacity capacity_;
  Arena param_arena_, grad_arena_, act_arena_;
  BatchArrays batch_arrays_;
  std::vector<std::byte> host_logits_, host_d_logits_;  // GPU only: staging, sized once
  ParamLayout params_, grads_;
  size_t head_begin_ = 0;  // the first head entry of the tables
};

}  // namespace masklm
