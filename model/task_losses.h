// The fine-tuning tasks' losses, computed on the host from a head's logits (host values, F32
// or F64; sums in double), and their gradients with respect to those logits, which the heads
// then upload for their backward. Each gradient is accumulated: d += scale * d(sum over the
// batch's examples of their losses)/d logits, so scale = 1/B gives the mean loss's.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace masklm {

// Regression: mean squared error of (B, 1) predictions against targets; d(pred - target)^2
// is 2 (pred - target).
double mse_forward(const Tensor& pred, const std::vector<double>& targets);
void mse_backward(const Tensor& d_pred, const Tensor& pred, const std::vector<double>& targets,
                  double scale);

// Classification: mean softmax cross-entropy of (B, K) logits against labels in [0, K); its
// gradient is softmax - one-hot.
double classification_xent_forward(const Tensor& logits, const std::vector<int32_t>& labels);
void classification_xent_backward(const Tensor& d_logits, const Tensor& logits,
                                  const std::vector<int32_t>& labels, double scale);

// Span extraction: (N, 2) logits ([start, end] per token) of the sequences cu_seqlens
// delimits; a sequence's loss is (xent(its start logits, start) + xent(its end logits,
// end)) / 2, and the batch's the mean over sequences.
double span_xent_forward(const Tensor& logits, const std::vector<int32_t>& cu_seqlens,
                         const std::vector<int32_t>& starts, const std::vector<int32_t>& ends);
void span_xent_backward(const Tensor& d_logits, const Tensor& logits,
                        const std::vector<int32_t>& cu_seqlens, const std::vector<int32_t>& starts,
                        const std::vector<int32_t>& ends, double scale);

}  // namespace masklm
