#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

namespace masklm {

namespace {

Tensor flat_span(const ParamLayout& layout, DType dtype, int64_t elements) {
  Tensor t;
  t.data = layout.table.front().view.data;
  t.shape = Shape{elements};
  t.dtype = dtype;
  t.device = layout.table.front().view.device;
  return t;
}

}  // namespace

AdamW::AdamW(const ParamLayout& params, const ParamLayout& grads, const AdamWConfig& config,
             std::optional<ElemRange> owned, const ParamLayout* compute_copy,
             std::optional<Device> state_device)
    : config_(config) {
  MASKLM_CHECK(!params.table.empty() && params.table.size() == grads.table.size(),
               "AdamW needs matching parameter and gradient layouts");
  MASKLM_CHECK(config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1,
               "AdamW betas must be in [0, 1), got ({}, {})", config.beta1, config.beta2);
  MASKLM_CHECK(config.eps > 0 && config.weight_decay >= 0 && config.clip_norm >= 0,
               "AdamW needs eps > 0, weight_decay >= 0 and clip_norm >= 0");
  dtype_ = params.table.front().view.dtype;
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype_));
  // Consecutive entries with the same decay flag merge into one span. Alignment gaps
  // between tensors are zero in params, grads and moments, and AdamW keeps zeros zero.
  std::vector<Span> whole;
  int64_t span_start = 0;
  const int64_t total = element_span(params);
  bool decay = params.table.front().weight_decay;
  for (const ParamEntry& e : params.table) {
    const int64_t begin = element_offset(params, e);
    if (e.weight_decay != decay) {
      whole.push_back({span_start, begin, decay});
      span_start = begin;
      decay = e.weight_decay;
    }
  }
  whole.push_back({span_start, total, decay});
  owned_ = owned.value_or(ElemRange{0, total});
  MASKLM_CHECK(0 <= owned_.begin && owned_.begin <= owned_.end && owned_.end <= total,
               "optimizer range [{}, {}) outside the {} parameters", owned_.begin, owned_.end,
               total);
  for (const Span& s : whole) {
    const int64_t b = std::max(s.begin, owned_.begin), e = std::min(s.end, owned_.end);
    if (b < e) spans_.push_back({b, e, s.decay});
  }
  params_ = flat_span(params, dtype_, total).rows(owned_.begin, owned_.end);
  grads_ = flat_span(grads, dtype_, total).rows(owned_.begin, owned_.end);
  if (compute_copy) {
    MASKLM_CHECK(element_span(*compute_copy) == total,
                 "AdamW's compute copy must mirror the parameters' layout");
    compute_copy_ = flat_span(*compute_copy, compute_copy->table.front().view.dtype, total)
                        .rows(owned_.begin, owned_.end);
  }
  const size_t state_bytes = static_cast<size_t>(owned_.size() * elem);
  state_ = Arena(2 * state_bytes + 2 * kArenaAlignment,
                 state_device.value_or(params.table.front().view.device));
  m_ = state_.alloc(Shape{owned_.size()}, dtype_);
  v_ = state_.alloc(Shape{owned_.size()}, dtype_);
  state_.zero();
}

double AdamW::owned_grad_sum_squares(Ctx& ctx) const { return sum_squares(ctx, grads_); }

double AdamW::grad_norm(Ctx& ctx, double grad_scale) const {
  return std::sqrt(owned_grad_sum_squares(ctx)) * grad_scale;
}

void AdamW::update(Ctx& ctx, double lr, double grad_scale, double norm) {
  MASKLM_CHECK(m_.device == params_.device,
               "this AdamW holds a host copy of the optimizer state for a checkpoint; it "
               "cannot update parameters on the GPU");
  MASKLM_CHECK(std::isfinite(norm), "gradient norm is not finite ({})", norm);
  double scale = grad_scale;
  if (config_.clip_norm > 0 && norm > config_.clip_norm) scale *= config_.clip_norm / norm;
  ++step_;
  for (const Span& s : spans_) {
    AdamWStep a;
    a.lr = lr;
    a.beta1 = config_.beta1;
    a.beta2 = config_.beta2;
    a.eps = config_.eps;
    a.weight_decay = s.decay ? config_.weight_decay : 0.0;
    a.step = step_;
    a.grad_scale = scale;
    // params_, grads_, m_ and v_ all start at owned_.begin.
    const int64_t b = s.begin - owned_.begin, e = s.end - owned_.begin;
    adamw_update(ctx, params_.rows(b, e), grads_.rows(b, e), m_.rows(b, e), v_.rows(b, e), a,
                 compute_copy_.empty() ? Tensor{} : compute_copy_.rows(b, e));
  }
}

}  // namespace masklm
