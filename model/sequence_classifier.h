// Sequence classification and regression on the pretrained encoder (GLUE-style
// fine-tuning): the first token's ([CLS] / <s>) encoder output of each sequence -> dense
// C -> C -> GELU -> dropout -> out_proj C -> K logits (K = num_labels; 1 for regression).
//
// The pooler activation is GELU, not the tanh of BERT's pooler / RoBERTa's classification
// head: kernels/ops.h has no tanh, and GELU is the op the rest of the encoder already uses.
// Fine-tuning starts this head from random weights either way, so only the nonlinearity's
// shape differs.
//
// Classification loss is the mean softmax cross-entropy, computed by the MLM head's
// mlm_xent ops with out_proj as a K-entry "vocabulary"; regression loss is the mean squared
// error, below.
//
// FineTuneModel owns the encoder and head parameters in one flat buffer (the encoder in
// the layout of model/params.h, then the head), gradients in a second buffer of the same
// layout, and activations sized once; forward() and backward() allocate nothing. It runs on
// the CPU backend.
#pragma once

#include <filesystem>
#include <vector>

#include "model/batch.h"
#include "model/encoder.h"

namespace masklm {

struct ClassifierHeadParams {
  Tensor dense_weight;  // (C, C)
  Tensor dense_bias;    // (C)
  Tensor out_weight;    // (K, C)
  Tensor out_bias;      // (K)
};

// Encoder parameters (model/params.h, MLM head included but unused) followed by the head,
// with one table over both, so the optimizer walks them as one flat buffer. The head's
// names are RobertaForSequenceClassification's ("classifier.dense.weight", ...).
struct FineTuneLayout {
  ParamLayout all;
  ClassifierHeadParams head;
};
FineTuneLayout layout_finetune_params(const ModelConfig& config, int num_labels, Arena& arena, DType dtype);

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

// Mean squared error of (B, 1) predictions against targets, and its gradient
// d_pred += scale * 2 * (pred - target) (scale = 1/B for the mean). CPU, F32 or F64.
double mse_forward(const Tensor& pred, const std::vector<double>& targets);
void mse_backward(const Tensor& d_pred, const Tensor& pred, const std::vector<double>& targets, double scale);

struct FineTuneStats {
  double loss = 0;       // mean over the batch's sequences
  int64_t correct = 0;   // classification: argmax == label
  int64_t examples = 0;  // B
};

class FineTuneModel {
 public:
  // num_labels 1 means regression (MSE); more means classification. dtype F32, or F64 for
  // gradient checks.
  FineTuneModel(const ModelConfig& config, int num_labels, int64_t max_tokens, int64_t max_sequences,
                DType dtype = DType::F32);

  // Random encoder and head (tests and training from scratch).
  void init_weights(uint64_t seed);
  // Encoder weights from a masklm checkpoint (or any model.safetensors with masklm's
  // parameter names); the head keeps its initialization. Call after init_weights().
  void load_encoder(const std::filesystem::path& checkpoint_dir);

  // Forward with loss; `batch` must stay alive and unchanged until backward().
  FineTuneStats forward(Ctx& ctx, const ClassificationBatch& batch, const DropoutPlan& dropout);
  // Accumulates the gradients of the last forward's mean loss.
  void backward(Ctx& ctx, const DropoutPlan& dropout);
  void zero_grads(Ctx& ctx) { fill_zero(ctx, grad_arena_.flat(dtype_)); }

  // The last forward's predictions: argmax labels (classification) or scores (regression).
  std::vector<int32_t> predicted_labels() const;
  std::vector<double> predicted_scores() const;

  const ModelConfig& config() const { return config_; }
  int num_labels() const { return num_labels_; }
  bool is_regression() const { return num_labels_ == 1; }
  const ParamLayout& params() const { return params_.all; }
  const ParamLayout& grads() const { return grads_.all; }
  DType dtype() const { return dtype_; }

 private:
  Tensor logits_rows() const { return logits_.rows(0, batch_.num_predictions); }

  ModelConfig config_;
  int num_labels_;
  DType dtype_;
  Arena param_arena_, grad_arena_, act_arena_;
  FineTuneLayout params_, grads_;
  Activations acts_;  // the encoder's, plus head_in/pre/act/out and losses/lse/correct as (B, ...) rows
  GradScratch scratch_;
  Tensor logits_, d_logits_;  // (max B, K)
  BatchTensors batch_;
  const ClassificationBatch* host_batch_ = nullptr;
};

}  // namespace masklm
