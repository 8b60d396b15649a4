// MlmModel owns one encoder with its sparse MLM head: the flat parameter and gradient
// buffers (same layout), and the activation arena sized once for the largest micro-batch.
// Nothing is allocated by forward() or backward().
#pragma once

#include "model/batch.h"
#include "model/encoder.h"
#include "model/mlm_head.h"

namespace masklm {

struct MlmStats {
  double loss = 0;          // mean cross-entropy over the predictions
  int64_t correct = 0;      // predictions whose argmax is the label
  int64_t predictions = 0;  // P
};

class MlmModel {
 public:
  // dtype F32 for training, F64 for gradient checks. CPU only until the CUDA backend lands.
  MlmModel(const ModelConfig& config, Capacity capacity, DType dtype = DType::F32);

  void init_weights(uint64_t seed) { init_params(params_, config_, seed); }

  // Forward pass with loss; keeps what backward() needs. `batch` must stay alive and
  // unchanged until backward().
  MlmStats forward(Ctx& ctx, const Batch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss into grads().
  void backward(Ctx& ctx, const DropoutPlan& dropout);
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }
  // (P, V) logits of the last forward (evaluation and tests).
  void logits(Ctx& ctx, const Tensor& out) { mlm_head_logits(ctx, params_.params, acts_, batch_.num_predictions, out); }
  // (N, C) encoder output of the last forward.
  Tensor encoder_output() const { return encoder_out_; }

  const ModelConfig& config() const { return config_; }
  const ParamLayout& params() const { return params_; }
  const ParamLayout& grads() const { return grads_; }
  Arena& param_arena() { return param_arena_; }
  Arena& grad_arena() { return grad_arena_; }
  DType dtype() const { return dtype_; }
  Capacity capacity() const { return capacity_; }
  int64_t vocab_chunk() const { return vocab_chunk_; }
  void set_vocab_chunk(int64_t chunk);

 private:
  ModelConfig config_;
  Capacity capacity_;
  DType dtype_;
  int64_t vocab_chunk_ = 4096;
  Arena param_arena_, grad_arena_, act_arena_;
  ParamLayout params_, grads_;
  Activations acts_;
  GradScratch scratch_;
  BatchTensors batch_;
  Tensor encoder_out_;
};

}  // namespace masklm
