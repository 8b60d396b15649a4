// AdamW over the flat parameter buffer. Parameters that take weight decay (matrices and
// embeddings) and those that do not (LayerNorm weights, biases) form a few contiguous
// spans of the buffer; one update call runs per span, not per tensor.
//
// ZeRO-1 (train/data_parallel.h): an optimizer may own only a range of the flat buffer;
// its moments then cover that range alone and update() touches only those parameters.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "kernels/ops.h"
#include "model/params.h"

namespace masklm {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-6;
  double weight_decay = 0.01;
  double clip_norm = 0.0;  // clip the global gradient norm to this; 0 disables
};

// Elements [begin, end) of the flat parameter buffer.
struct ElemRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

class AdamW {
 public:
  // params and grads share one layout (model/params.h); the moments get the same layout,
  // restricted to `owned` when given (default: the whole buffer). In mixed precision
  // `compute_copy` is the 16-bit copy of the fp32 params (model/params.h's
  // layout_params_like), which every update rewrites (over `owned` only).
  AdamW(const ParamLayout& params, const ParamLayout& grads, const AdamWConfig& config,
        std::optional<ElemRange> owned = std::nullopt, const ParamLayout* compute_copy = nullptr)
      : AdamW(params, grads, config, owned, compute_copy, std::nullopt) {}

  // The whole state (m and v of every parameter, and the step count) in host memory: what
  // the checkpoint of a sharded (ZeRO-1) optimizer gathers into and resumes from
  // (train/data_parallel.h), so that no GPU holds all of it. It updates nothing on a GPU.
  static std::unique_ptr<AdamW> host_state(const ParamLayout& params, const ParamLayout& grads,
                                           const AdamWConfig& config) {
    return std::unique_ptr<AdamW>(
        new AdamW(params, grads, config, std::nullopt, nullptr, Device::CPU));
  }

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
  // Sum of squares of the owned gradients (unscaled): the part of the global norm this
  // optimizer sees.
  double owned_grad_sum_squares(Ctx& ctx) const;
  void update(Ctx& ctx, double lr, double grad_scale, double grad_norm);

  int64_t steps_taken() const { return step_; }
  // Checkpoints restore the step count with this and m, v through state_arena().
  void set_steps_taken(int64_t steps) { step_ = steps; }
  Arena& state_arena() { return state_; }  // m then v, for checkpoints
  ElemRange owned() const { return owned_; }
  const Tensor& first_moment() const { return m_; }  // over owned()
  const Tensor& second_moment() const { return v_; }

 private:
  struct Span {
    int64_t begin, end;  // element range within the parameter buffer, inside owned_
    bool decay;
  };

  // The moments on `state_device`, by default the parameters' device.
  AdamW(const ParamLayout& params, const ParamLayout& grads, const AdamWConfig& config,
        std::optional<ElemRange> owned, const ParamLayout* compute_copy,
        std::optional<Device> state_device);

  AdamWConfig config_;
  DType dtype_;
  ElemRange owned_;
  Tensor params_, grads_;  // flat views of owned_
  Tensor compute_copy_;    // flat view of owned_ in the 16-bit copy, or empty
  Tensor m_, v_;           // owned_.size() elements
  std::vector<Span> spans_;
  Arena state_;
  int64_t step_ = 0;
};

}  // namespace masklm
