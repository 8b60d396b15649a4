// MlmModel owns one encoder with its sparse MLM head: the flat parameter and gradient
// buffers (same layout), the activation arena sized once for the largest micro-batch, and
// (on a GPU) the device buffers a batch's index arrays are copied into. All of them live on
// the model's device. Nothing is allocated by forward() or backward().
#pragma once

#include "model/batch.h"
#include "model/batch_arrays.h"
#include "model/encoder.h"
#include "model/mlm_head.h"
#include "model/skip_corrupted.h"

namespace masklm {

struct MlmStats {
  double loss = 0;          // mean cross-entropy over the predictions
  int64_t correct = 0;      // predictions whose argmax is the label
  int64_t predictions = 0;  // P
};

class MlmModel {
 public:
  // dtype F32 for training, F64 for gradient checks (CPU only); device CPU or CUDA (then
  // every call takes a Ctx on that GPU).
  MlmModel(const ModelConfig& config, Capacity capacity, DType dtype = DType::F32, Device device = Device::CPU);

  // Initializes on the host and copies to the device, so every device gets the same weights.
  void init_weights(uint64_t seed);

  // Forward pass with loss; keeps what backward() needs. On the CPU `batch` must stay alive
  // and unchanged until backward() (a GPU keeps its own copy).
  MlmStats forward(Ctx& ctx, const Batch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss into grads(); `ready` hears
  // when the gradients from a tensor up are final (model/encoder.h).
  void backward(Ctx& ctx, const DropoutPlan& dropout, const GradsReady& ready = {});
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }
  // (P, V) logits of the last forward (evaluation and tests).
  void logits(Ctx& ctx, const Tensor& out) { mlm_head_logits(ctx, params_.params, acts_, batch_.num_predictions, out); }
  // (N, C) rows the MLM head reads in the last forward: the encoder output, or for the
  // skip-corrupted model the decoder output.
  Tensor encoder_output() const { return encoder_out_; }
  // Tokens the encoder ran on in the last forward (N, or N minus the corrupted tokens).
  int64_t encoder_tokens() const { return config_.skip_corrupted ? skip_.kept.num_tokens : batch_.num_tokens; }

  const ModelConfig& config() const { return config_; }
  const ParamLayout& params() const { return params_; }
  const ParamLayout& grads() const { return grads_; }
  Arena& param_arena() { return param_arena_; }
  const Arena& param_arena() const { return param_arena_; }
  Arena& grad_arena() { return grad_arena_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  Capacity capacity() const { return capacity_; }
  int64_t vocab_chunk() const { return vocab_chunk_; }
  void set_vocab_chunk(int64_t chunk);

 private:
  ModelConfig config_;
  Capacity capacity_;
  DType dtype_;
  Device device_;
  int64_t vocab_chunk_ = 4096;
  Arena param_arena_, grad_arena_, act_arena_;
  ParamLayout params_, grads_;
  Activations acts_;
  GradScratch scratch_;
  BatchArrays batch_arrays_;
  BatchTensors batch_;
  std::vector<float> host_losses_;     // (max P) copies of a GPU forward's losses and
  std::vector<int32_t> host_correct_;  // correct flags, for the statistics
  Tensor encoder_out_;
  SkipSplit skip_;  // skip-corrupted model only
};

}  // namespace masklm
