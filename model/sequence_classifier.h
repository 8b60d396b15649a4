// Sequence classification and regression on the pretrained encoder (GLUE-style
// fine-tuning): the first token's ([CLS] / <s>) encoder output of each sequence -> dense
// C -> C -> GELU -> dropout -> out_proj C -> K logits (K = num_labels; 1 for regression).
//
// The pooler activation is GELU, not the tanh of BERT's pooler / RoBERTa's classification
// head: kernels/ops.h has no tanh, and GELU is the op the rest of the encoder already uses.
// Fine-tuning starts this head from random weights either way, so only the nonlinearity's
// shape differs.
//
// Classification loss is the mean softmax cross-entropy; regression loss is the mean squared
// error (model/task_losses.h).
//
// The encoder, the buffers and loading a checkpoint are model/finetune_encoder.h's; forward()
// and backward() allocate nothing. On the CPU or a GPU; the loss, its gradient with respect
// to the logits and the predictions are computed on the host from the (B, K) logits, which
// come back once per forward.
#pragma once

#include <vector>

#include "model/finetune_encoder.h"
#include "model/task_losses.h"

namespace masklm {

struct ClassifierHeadParams {
  Tensor dense_weight;  // (C, C)
  Tensor dense_bias;    // (C)
  Tensor out_weight;    // (K, C)
  Tensor out_bias;      // (K)
};

// The head's tensors, named as in RobertaForSequenceClassification
// ("classifier.dense.weight", ...).
std::vector<HeadParamSpec> classifier_head_specs(const ModelConfig& config, int num_labels);

// Sequences with one label (or regression target) each. `seqs.predict_index` holds each
// sequence's first token, `seqs.labels` its class (0 for regression).
struct ClassificationBatch {
  Batch seqs;
  std::vector<double> targets;  // (B) one per sequence; read only for regression

  // Appends a sequence; `types` empty or one per token.
  void add(const std::vector<int32_t>& ids, const std::vector<int32_t>& types, int32_t label, double target);
  void clear();
  int64_t size() const { return seqs.num_sequences(); }
};

struct FineTuneStats {
  double loss = 0;       // mean over the batch's sequences
  int64_t correct = 0;   // classification: argmax == label
  int64_t examples = 0;  // B
};

class FineTuneModel : public FineTuneEncoder {
 public:
  // num_labels 1 means regression (MSE); more means classification. compute_dtype F32, BF16
  // or F16 (model/finetune_encoder.h), or F64 for gradient checks on the CPU.
  FineTuneModel(const ModelConfig& config, int num_labels, int64_t max_tokens,
                int64_t max_sequences, DType compute_dtype = DType::F32,
                Device device = Device::CPU);

  // Forward with loss; `batch` must stay alive and unchanged until backward().
  FineTuneStats forward(Ctx& ctx, const ClassificationBatch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss times loss_scale (fp16's
  // dynamic loss scaling, train/loss_scaler.h).
  void backward(Ctx& ctx, const DropoutPlan& dropout, double loss_scale = 1.0);

  // On a GPU: one forward and backward on the largest batch, so that no later step grows
  // the device's op scratch (model/finetune_encoder.h). Nothing to do on the CPU.
  void reserve_device_memory(Ctx& ctx);

  // The last forward's predictions: argmax labels (classification) or scores (regression).
  std::vector<int32_t> predicted_labels() const;
  std::vector<double> predicted_scores() const;
  // The last forward's (B, K) logits as host values (F32, or F64).
  const Tensor& last_logits() const { return host_logits_rows_; }

  int num_labels() const { return num_labels_; }
  bool is_regression() const { return num_labels_ == 1; }

 private:
  Tensor logits_rows() const { return logits_.rows(0, batch_.num_predictions); }

  int num_labels_;
  ClassifierHeadParams head_, head_grads_;
  const ClassificationBatch* host_batch_ = nullptr;
  Tensor host_logits_rows_;  // the last forward's (B, K) logits, on the host
};

}  // namespace masklm
