// MlmModel owns one encoder with its sparse MLM head: the flat parameter and gradient
// buffers (same layout), the activation arena sized once for the largest micro-batch, and
// (on a GPU) the device buffers a batch's index arrays are copied into. All of them live on
// the model's device. Nothing is allocated by forward() or backward().
//
// Mixed precision (compute dtype BF16 or F16, kernels/cuda/precision.h): the parameters and
// their gradients stay F32 (the master weights the optimizer and checkpoints see); a 16-bit
// compute copy of the parameters in the same element layout is what forward() and
// backward() read, and the activations are 16-bit beside F32 statistics and losses.
#pragma once

#include "model/batch.h"
#include "model/batch_arrays.h"
#include "model/compute_copy.h"
#include "model/encoder.h"
#include "model/host_staging.h"
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
  // compute_dtype F32 for training, BF16/F16 for mixed precision, F64 for gradient checks
  // (CPU only); device CPU or CUDA (then every call takes a Ctx on that GPU).
  MlmModel(const ModelConfig& config, Capacity capacity, DType compute_dtype = DType::F32,
           Device device = Device::CPU);

  // Initializes on the host and copies to the device, so every device gets the same weights.
  void init_weights(uint64_t seed);
  // Whoever writes the master weights other than through the optimizer's update (a
  // checkpoint load, ZeRO-1's all-gather, a test through params()) must say so: the next
  // forward() refreshes the 16-bit compute copy from them.
  void master_weights_changed() { compute_copy_.mark_stale(); }

  // Forward pass with loss; keeps what backward() needs. On the CPU `batch` must stay alive
  // and unchanged until backward() (a GPU keeps its own copy).
  MlmStats forward(Ctx& ctx, const Batch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss, times loss_scale (fp16's
  // dynamic loss scaling, train/loss_scaler.h), into grads(); `ready` hears when the
  // gradients from a tensor up are final (model/encoder.h).
  void backward(Ctx& ctx, const DropoutPlan& dropout, const GradsReady& ready = {},
                double loss_scale = 1.0);
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }
  // On a GPU: one forward and backward on a batch that fills the capacity (sequences of
  // `seq_len` tokens, every token predicted, none corrupted), so that the op scratch of the
  // Ctx's CUDA context reaches its largest size now, not in some later step (growing it
  // synchronizes and reallocates), and a batch too large for the GPU fails at start-up; the
  // gradient norm over all gradients too. The context's upload staging grows to the
  // largest batch arrays the capacity allows (more sequences than the filler batch has).
  // Leaves the gradients zero. Nothing to do on the CPU. cuDNN's attention may still grow
  // the scratch for a batch whose padded shape is new (it also builds a graph then).
  void reserve_device_memory(Ctx& ctx, int64_t seq_len);
  // (P, V) logits of the last forward (evaluation and tests), in the compute dtype.
  void logits(Ctx& ctx, const Tensor& out) {
    mlm_head_logits(ctx, weights(), acts_, batch_.num_predictions, out);
  }
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
  // The 16-bit copy of params() that forward/backward read (same element offsets), or null
  // when the model computes in its parameters' dtype.
  const ParamLayout* compute_copy() const { return compute_copy_.layout(); }
  // Of the parameters and gradients (F32 in mixed precision).
  DType dtype() const { return dtype_; }
  // Of the activations and the weights the kernels read.
  DType compute_dtype() const { return compute_dtype_; }
  Device device() const { return device_; }
  Capacity capacity() const { return capacity_; }
  int64_t vocab_chunk() const { return vocab_chunk_; }
  void set_vocab_chunk(int64_t chunk);

 private:
  // The weights the kernels read: the compute copy (forward() refreshes it first when stale)
  // or the parameters themselves.
  const ModelParams& weights() const { return compute_copy_.weights(params_).params; }

  ModelConfig config_;
  Capacity capacity_;
  DType compute_dtype_, dtype_;
  Device device_;
  int64_t vocab_chunk_ = 4096;
  Arena param_arena_, grad_arena_, act_arena_;
  ParamLayout params_, grads_;
  ComputeCopy compute_copy_;  // mixed precision only
  Activations acts_;
  GradScratch scratch_;
  BatchArrays batch_arrays_;
  BatchTensors batch_;
  HostStaging losses_staging_, correct_staging_;  // a forward's losses and correct flags
  Tensor encoder_out_;
  SkipSplit skip_;  // skip-corrupted model only
};

}  // namespace masklm
