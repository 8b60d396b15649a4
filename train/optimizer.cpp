#include "train/optimizer.h"

#include <cmath>

namespace masklm {

namespace {

Tensor flat_span(const ParamLayout& layout, DType dtype, size_t bytes) {
  Tensor t;
  t.data = layout.table.front().view.data;
  t.shape = Shape{static_cast<int64_t>(bytes / dtype_size(dtype))};
  t.dtype = dtype;
  t.device = layout.table.front().view.device;
  return t;
}

}  // namespace

AdamW::AdamW(const ParamLayout& params, const ParamLayout& grads, const AdamWConfig& config)
    : config_(config) {
  MASKLM_CHECK(!params.table.empty() && params.table.size() == grads.table.size(),
               "AdamW needs matching parameter and gradient layouts");
  MASKLM_CHECK(config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1,
               "AdamW betas must be in [0, 1), got ({}, {})", config.beta1, config.beta2);
  MASKLM_CHECK(config.eps > 0 && config.weight_decay >= 0 && config.clip_norm >= 0,
               "AdamW needs eps > 0, weight_decay >= 0 and clip_norm >= 0");
  dtype_ = params.table.front().view.dtype;
  const char* base = static_cast<const char*>(params.table.front().view.data);
  // Consecutive entries with the same decay flag merge into one span. Alignment gaps
  // between tensors are zero in params, grads and moments, and AdamW keeps zeros zero.
  size_t span_start = 0, end = 0;
  bool decay = params.table.front().weight_decay;
  for (const ParamEntry& e : params.table) {
    const size_t begin = static_cast<size_t>(static_cast<const char*>(e.view.data) - base);
    if (e.weight_decay != decay) {
      spans_.push_back({span_start, begin - span_start, decay});
      span_start = begin;
      decay = e.weight_decay;
    }
    end = begin + e.view.nbytes();
  }
  spans_.push_back({span_start, end - span_start, decay});
  const Device device = params.table.front().view.device;
  params_ = flat_span(params, dtype_, end);
  grads_ = flat_span(grads, dtype_, end);
  state_ = Arena(2 * end + 2 * kArenaAlignment, device);
  m_ = state_.alloc(params_.shape, dtype_);
  v_ = state_.alloc(params_.shape, dtype_);
  state_.zero();
}

Tensor AdamW::slice(const Tensor& flat, const Span& s) const {
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype_));
  return flat.rows(static_cast<int64_t>(s.offset) / elem, static_cast<int64_t>(s.offset + s.bytes) / elem);
}

double AdamW::grad_norm(Ctx& ctx, double grad_scale) const {
  return std::sqrt(sum_squares(ctx, grads_)) * grad_scale;
}

void AdamW::update(Ctx& ctx, double lr, double grad_scale, double norm) {
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
    adamw_update(ctx, slice(params_, s), slice(grads_, s), slice(m_, s), slice(v_, s), a);
  }
}

}  // namespace masklm
