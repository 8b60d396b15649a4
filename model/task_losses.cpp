#include "model/task_losses.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace masklm {

namespace {

constexpr int64_t kStart = 0, kEnd = 1;  // the two columns of the (N, 2) span logits

// fn(T) with T the host values' type: float or double.
template <typename Fn> auto with_host_type(const Tensor& t, const char* what, Fn&& fn) {
  MASKLM_CHECK(t.device == Device::CPU && (t.dtype == DType::F32 || t.dtype == DType::F64),
               "{} runs on F32 or F64 host tensors, got {} on the {}", what, dtype_name(t.dtype),
               t.device == Device::CPU ? "CPU" : "GPU");
  return t.dtype == DType::F64 ? fn(double{}) : fn(float{});
}

void check_gradient(const Tensor& d, const Tensor& values, const char* what) {
  MASKLM_CHECK(d.shape == values.shape && d.dtype == values.dtype,
               "{}: the gradient must match the logits, got {} {} for {} {}", what,
               dtype_name(d.dtype), d.shape.str(), dtype_name(values.dtype), values.shape.str());
}

// Softmax cross-entropy of the `count` logits x[0], x[stride], x[2 stride], ... against the
// one at index `target`: log-sum-exp minus x[target * stride]. With d, also adds
// scale * (softmax - one-hot) to d's entries at the same places.
template <typename T>
double strided_xent(const T* x, int64_t count, int64_t stride, int64_t target, T* d = nullptr,
                    double scale = 0) {
  double max = -INFINITY, sum = 0;
  for (int64_t i = 0; i < count; ++i) max = std::max(max, static_cast<double>(x[i * stride]));
  for (int64_t i = 0; i < count; ++i) sum += std::exp(static_cast<double>(x[i * stride]) - max);
  const double lse = max + std::log(sum);
  if (d)
    for (int64_t i = 0; i < count; ++i)
      d[i * stride] += static_cast<T>(
          scale * (std::exp(static_cast<double>(x[i * stride]) - lse) - (i == target ? 1.0 : 0.0)));
  return lse - static_cast<double>(x[target * stride]);
}

void check_mse_args(const Tensor& pred, const std::vector<double>& targets) {
  MASKLM_CHECK(pred.numel() == static_cast<int64_t>(targets.size()) && !targets.empty(),
               "MSE needs one prediction per target, got {} and {}", pred.numel(), targets.size());
}

void check_classification_args(const Tensor& logits, const std::vector<int32_t>& labels) {
  MASKLM_CHECK(logits.shape.ndim == 2 && logits.shape[0] == static_cast<int64_t>(labels.size()) &&
                   !labels.empty(),
               "classification logits must be (B, K) with B = {} labels, got {}", labels.size(),
               logits.shape.str());
  for (int32_t label : labels)
    MASKLM_CHECK(label >= 0 && label < logits.shape[1], "label {} outside the {} labels", label,
                 logits.shape[1]);
}

void check_span_args(const Tensor& logits, const std::vector<int32_t>& cu_seqlens,
                     const std::vector<int32_t>& starts, const std::vector<int32_t>& ends) {
  MASKLM_CHECK(
      !starts.empty() && cu_seqlens.size() == starts.size() + 1 && ends.size() == starts.size(),
      "the span loss needs a start and an end per sequence ({} sequences, {} starts, {} ends)",
      cu_seqlens.empty() ? 0 : cu_seqlens.size() - 1, starts.size(), ends.size());
  MASKLM_CHECK(
      logits.shape.ndim == 2 && logits.shape[1] == 2 && logits.shape[0] == cu_seqlens.back(),
      "span logits must be (N, 2) with N = {}, got {}", cu_seqlens.back(), logits.shape.str());
  for (size_t b = 0; b < starts.size(); ++b) {
    const int32_t length = cu_seqlens[b + 1] - cu_seqlens[b];
    MASKLM_CHECK(starts[b] >= 0 && starts[b] < length && ends[b] >= 0 && ends[b] < length,
                 "answer span [{}, {}] outside sequence {} of {} tokens", starts[b], ends[b], b,
                 length);
  }
}

// Sequence b's two halves of the span loss, each (with d) adding scale / 2 times its gradient.
template <typename T>
double span_losses(const T* logits, const std::vector<int32_t>& cu, size_t b, int32_t start,
                   int32_t end, T* d = nullptr, double scale = 0) {
  const int64_t first = cu[b], count = cu[b + 1] - cu[b];
  const auto half = [&](int64_t col, int32_t target) {
    return strided_xent(logits + first * 2 + col, count, 2, target,
                        d ? d + first * 2 + col : nullptr, scale / 2);
  };
  return (half(kStart, start) + half(kEnd, end)) / 2;
}

}  // namespace

double mse_forward(const Tensor& pred, const std::vector<double>& targets) {
  check_mse_args(pred, targets);
  return with_host_type(pred, "MSE", [&]<typename T>(T) {
    double sum = 0;
    for (size_t b = 0; b < targets.size(); ++b) {
      const double diff = static_cast<double>(pred.ptr<T>()[b]) - targets[b];
      sum += diff * diff;
    }
    return sum / static_cast<double>(targets.size());
  });
}

void mse_backward(const Tensor& d_pred, const Tensor& pred, const std::vector<double>& targets,
                  double scale) {
  check_mse_args(pred, targets);
  check_gradient(d_pred, pred, "MSE");
  with_host_type(pred, "MSE", [&]<typename T>(T) {
    for (size_t b = 0; b < targets.size(); ++b)
      d_pred.ptr<T>()[b] +=
          static_cast<T>(scale * 2 * (static_cast<double>(pred.ptr<T>()[b]) - targets[b]));
  });
}

double classification_xent_forward(const Tensor& logits, const std::vector<int32_t>& labels) {
  check_classification_args(logits, labels);
  const int64_t K = logits.shape[1];
  return with_host_type(logits, "the classification loss", [&]<typename T>(T) {
    double sum = 0;
    for (size_t b = 0; b < labels.size(); ++b)
      sum += strided_xent(logits.ptr<T>() + static_cast<int64_t>(b) * K, K, 1, labels[b]);
    return sum / static_cast<double>(labels.size());
  });
}

void classification_xent_backward(const Tensor& d_logits, const Tensor& logits,
                                  const std::vector<int32_t>& labels, double scale) {
  check_classification_args(logits, labels);
  check_gradient(d_logits, logits, "the classification loss");
  const int64_t K = logits.shape[1];
  with_host_type(logits, "the classification loss", [&]<typename T>(T) {
    for (size_t b = 0; b < labels.size(); ++b) {
      const int64_t row = static_cast<int64_t>(b) * K;
      strided_xent(logits.ptr<T>() + row, K, 1, labels[b], d_logits.ptr<T>() + row, scale);
    }
  });
}

double span_xent_forward(const Tensor& logits, const std::vector<int32_t>& cu_seqlens,
                         const std::vector<int32_t>& starts, const std::vector<int32_t>& ends) {
  check_span_args(logits, cu_seqlens, starts, ends);
  return with_host_type(logits, "the span loss", [&]<typename T>(T) {
    double sum = 0;
    for (size_t b = 0; b < starts.size(); ++b)
      sum += span_losses(logits.ptr<T>(), cu_seqlens, b, starts[b], ends[b]);
    return sum / static_cast<double>(starts.size());
  });
}

void span_xent_backward(const Tensor& d_logits, const Tensor& logits,
                        const std::vector<int32_t>& cu_seqlens, const std::vector<int32_t>& starts,
                        const std::vector<int32_t>& ends, double scale) {
  check_span_args(logits, cu_seqlens, starts, ends);
  check_gradient(d_logits, logits, "the span loss");
  with_host_type(logits, "the span loss", [&]<typename T>(T) {
    for (size_t b = 0; b < starts.size(); ++b)
      span_losses(logits.ptr<T>(), cu_seqlens, b, starts[b], ends[b], d_logits.ptr<T>(), scale);
  });
}

}  // namespace masklm
