// AdamW over the flat parameter buffer. Parameters that take weight decay (matrices and
// embeddings) and those that do not (LayerNorm weights, biases) form a few contiguous
// spans of the buffer; one update call runs per span, not per tensor.
#pragma once

#include <vector>

#include "kernels/ops.h"
#include "model/params.h"

namespace masklm {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-6;
  double weight_decay = 0.01;
  double clip_norm = 0.0;  // clip the global gradient norm to this; 0 disables
};

class AdamW {
 public:
  // params and grads share one layout (model/params.h); the moments get the same layout.
  AdamW(const ParamLayout& params, const ParamLayout& grads, const AdamWConfig& config);

  // One update with learning rate lr; returns the global gradient norm before clipping.
  // grad_scale multiplies the gradients first (e.g. 1/accumulation steps).
  double step(Ctx& ctx, double lr, double grad_scale = 1.0) {
    const double norm = grad_norm(ctx, grad_scale);
    update(ctx, lr, grad_scale, norm);
    return norm;
  }
  // step() in two halves, so a trainer can look at the norm (and skip a non-finite step)
  // without a second pass over the gradients.
  double grad_norm(Ctx& ctx, double grad_scale = 1.0) const;
  void update(Ctx& ctx, double lr, double grad_scale, double grad_norm);

  int64_t steps_taken() const { return step_; }
  // Checkpoints restore the step count with this and m, v through state_arena().
  void set_steps_taken(int64_t steps) { step_ = steps; }
  Arena& state_arena() { return state_; }  // m then v, for checkpoints

 private:
  struct Span {
    size_t offset, bytes;  // byte range within the parameter buffer
    bool decay;
  };
  Tensor slice(const Tensor& flat, const Span& s) const;

  AdamWConfig config_;
  DType dtype_;
  Tensor params_, grads_, m_, v_;  // flat views, same element count
  std::vector<Span> spans_;
  Arena state_;
  int64_t step_ = 0;
};

}  // namespace masklm
