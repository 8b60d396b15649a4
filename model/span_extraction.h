// Span extraction (SQuAD-style question answering) on the pretrained encoder, as Hugging
// Face's BertForQuestionAnswering: every token's encoder output -> qa_outputs C -> 2, the
// token's start and end logits. The loss of a sequence is the mean of two softmax
// cross-entropies over its tokens, start logits against the answer's first token and end
// logits against its last; the batch loss is the mean over sequences. A sequence whose
// window holds no answer targets position 0 ([CLS] / <s>) for both.
//
// The encoder, the buffers and loading a checkpoint are model/finetune_encoder.h's;
// forward() and backward() allocate nothing. On the CPU or a GPU; the span loss and the
// logits handed to post-processing are computed on the host from the (N, 2) logits.
#pragma once

#include <cstdint>
#include <vector>

#include "model/finetune_encoder.h"
#include "model/task_losses.h"

namespace masklm {

// The head's tensors, named as in BertForQuestionAnswering ("qa_outputs.weight", ...).
std::vector<HeadParamSpec> span_head_specs(const ModelConfig& config);

// Sequences with the answer's start and end token positions, counted within each sequence.
struct SpanBatch {
  Batch seqs;
  std::vector<int32_t> starts, ends;  // (B)

  // Appends a sequence; `types` empty or one per token; 0 <= start, end < ids.size().
  void add(const std::vector<int32_t>& ids, const std::vector<int32_t>& types, int32_t start,
           int32_t end);
  void clear();
  int64_t size() const { return seqs.num_sequences(); }
};

// One sequence's logits, one value per token.
struct SpanLogits {
  std::vector<double> start, end;
};

class SpanExtractionModel : public FineTuneEncoder {
 public:
  // compute_dtype F32, BF16 or F16 (model/finetune_encoder.h), or F64 for gradient checks
  // on the CPU.
  SpanExtractionModel(const ModelConfig& config, int64_t max_tokens, int64_t max_sequences,
                      DType compute_dtype = DType::F32, Device device = Device::CPU);

  // Forward with the batch's mean loss; `batch` must stay alive and unchanged until backward().
  double forward(Ctx& ctx, const SpanBatch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss times loss_scale (fp16's
  // dynamic loss scaling, train/loss_scaler.h).
  void backward(Ctx& ctx, const DropoutPlan& dropout, double loss_scale = 1.0);

  // On a GPU: one forward and backward on the largest batch, so that no later step grows
  // the device's op scratch (model/finetune_encoder.h). Nothing to do on the CPU.
  void reserve_device_memory(Ctx& ctx);

  // The last forward's start and end logits, one SpanLogits per sequence.
  std::vector<SpanLogits> span_logits() const;

 private:
  Tensor logits_rows() const { return logits_.rows(0, batch_.num_tokens); }

  Tensor qa_weight_, qa_bias_, qa_weight_grad_, qa_bias_grad_;  // (2, C), (2)
  Tensor encoded_;  // (N, C) the last forward's encoder output, the head's input
  const SpanBatch* host_batch_ = nullptr;
  Tensor host_logits_rows_;  // the last forward's (N, 2) logits, on the host
};

}  // namespace masklm
