#include "model/sequence_classifier.h"

namespace masklm {

namespace {

// The head's dropout site: past every encoder and decoder site (those count layers).
constexpr uint32_t kClassifierDropoutSite = 0xFFFFF0;

template <typename T> double value_at(const Tensor& t, int64_t i) { return static_cast<double>(t.ptr<T>()[i]); }

double logit_at(const Tensor& t, int64_t i) {
  return t.dtype == DType::F64 ? value_at<double>(t, i) : value_at<float>(t, i);
}

}  // namespace

std::vector<HeadParamSpec> classifier_head_specs(const ModelConfig& config, int num_labels) {
  MASKLM_CHECK(num_labels >= 1, "a classifier needs at least one label (1: regression), got {}", num_labels);
  const int64_t C = config.hidden_size, K = num_labels;
  return {{"classifier.dense.weight", Shape{C, C}, ParamInit::NORMAL, true},
          {"classifier.dense.bias", Shape{C}, ParamInit::ZEROS, false},
          {"classifier.out_proj.weight", Shape{K, C}, ParamInit::NORMAL, true},
          {"classifier.out_proj.bias", Shape{K}, ParamInit::ZEROS, false}};
}

void ClassificationBatch::add(const std::vector<int32_t>& ids, const std::vector<int32_t>& types, int32_t label,
                              double target) {
  MASKLM_CHECK(!ids.empty(), "a sequence to classify needs at least one token");
  MASKLM_CHECK(types.empty() || types.size() == ids.size(), "{} token types for {} tokens", types.size(), ids.size());
  seqs.add_prediction(static_cast<int32_t>(seqs.num_tokens()), label);
  seqs.add_sequence(ids);
  seqs.types.insert(seqs.types.end(), types.begin(), types.end());
  targets.push_back(target);
}

void ClassificationBatch::clear() {
  // Cleared in place: the vectors keep their capacity from step to step.
  for (auto* v : {&seqs.tokens, &seqs.positions, &seqs.types, &seqs.cu_seqlens, &seqs.predict_index, &seqs.labels})
    v->clear();
  seqs.corrupted.clear();
  targets.clear();
}

FineTuneModel::FineTuneModel(const ModelConfig& config, int num_labels, int64_t max_tokens,
                             int64_t max_sequences, DType compute_dtype, Device device)
    : FineTuneEncoder(config, classifier_head_specs(config, num_labels),
                      Capacity{max_tokens, max_sequences}, Shape{max_sequences, num_labels},
                      compute_dtype, device),
      num_labels_(num_labels),
      head_{head_param(0), head_param(1), head_param(2), head_param(3)},
      head_grads_{head_grad(0), head_grad(1), head_grad(2), head_grad(3)},
      host_logits_rows_(logits_.rows(0, 0)) {}

FineTuneStats FineTuneModel::forward(Ctx& ctx, const ClassificationBatch& batch, const DropoutPlan& dropout) {
  const Batch& seqs = batch.seqs;
  MASKLM_CHECK(!is_regression() || static_cast<int64_t>(batch.targets.size()) == batch.size(),
               "a regression batch needs one target per sequence");
  for (int32_t label : seqs.labels)
    MASKLM_CHECK(label >= 0 && label < num_labels_, "label {} outside the {} labels", label, num_labels_);
  host_batch_ = &batch;
  const Tensor enc = encode(ctx, seqs, dropout);
  const int64_t B = batch.size();
  const ClassifierHeadParams& h = head_;
  const Tensor cls = acts_.head_in.rows(0, B), pre = acts_.head_pre.rows(0, B);
  const Tensor act = acts_.head_act.rows(0, B), pooled = acts_.head_out.rows(0, B);
  gather_rows(ctx, cls, enc, batch_.predict_index);
  matmul_forward(ctx, pre, cls, h.dense_weight, h.dense_bias);
  gelu_forward(ctx, act, pre);
  dropout_forward(ctx, pooled, act, hidden_p(config_, dropout),
                  site_key(dropout, RngStream::HIDDEN_DROPOUT, kClassifierDropoutSite));
  matmul_forward(ctx, logits_rows(), pooled, h.out_weight, h.out_bias);
  host_logits_rows_ = host_logits(ctx, B);

  FineTuneStats stats;
  stats.examples = B;
  if (is_regression()) {
    stats.loss = mse_forward(host_logits_rows_, batch.targets);
    return stats;
  }
  stats.loss = classification_xent_forward(host_logits_rows_, seqs.labels);
  const std::vector<int32_t> predicted = predicted_labels();
  for (int64_t b = 0; b < B; ++b)
    stats.correct += predicted[static_cast<size_t>(b)] == seqs.labels[static_cast<size_t>(b)];
  return stats;
}

void FineTuneModel::backward(Ctx& ctx, const DropoutPlan& dropout, double loss_scale) {
  MASKLM_CHECK(host_batch_ != nullptr, "backward() needs a forward() first");
  const int64_t B = batch_.num_predictions;
  const ClassifierHeadParams& h = head_;
  const ClassifierHeadParams& g = head_grads_;
  const Tensor cls = acts_.head_in.rows(0, B), pre = acts_.head_pre.rows(0, B), pooled = acts_.head_out.rows(0, B);
  const Tensor d_pooled = scratch_.d_head_out.rows(0, B), d_act = scratch_.d_head_act.rows(0, B);
  const Tensor d_pre = scratch_.d_head_pre.rows(0, B), d_cls = scratch_.d_head_in.rows(0, B);
  for (const Tensor& t : {d_pooled, d_act, d_pre, d_cls}) fill_zero(ctx, t);
  const double scale = loss_scale / static_cast<double>(B);  // the mean's, scaled

  const Tensor host_d_logits = zeroed_host_d_logits(B);
  if (is_regression())
    mse_backward(host_d_logits, host_logits_rows_, host_batch_->targets, scale);
  else
    classification_xent_backward(host_d_logits, host_logits_rows_, host_batch_->seqs.labels, scale);
  matmul_backward(ctx, d_pooled, g.out_weight, g.out_bias, upload_d_logits(ctx, host_d_logits),
                  pooled, h.out_weight);
  dropout_backward(ctx, d_act, d_pooled, hidden_p(config_, dropout),
                  site_key(dropout, RngStream::HIDDEN_DROPOUT, kClassifierDropoutSite));
  gelu_backward(ctx, d_pre, d_act, pre);
  matmul_backward(ctx, d_cls, g.dense_weight, g.dense_bias, d_pre, cls, h.dense_weight);

  const Tensor d_enc = zeroed_encoder_grad(ctx);
  scatter_add_rows(ctx, d_enc, d_cls, batch_.predict_index);
  encode_backward(ctx, dropout, d_enc);
}

void FineTuneModel::reserve_device_memory(Ctx& ctx) {
  ClassificationBatch largest;
  for (const std::vector<int32_t>& ids : largest_batch_sequences()) largest.add(ids, {}, 0, 0.0);
  reserve_with(ctx, [&](const DropoutPlan& dropout) {
    forward(ctx, largest, dropout);
    backward(ctx, dropout);
  });
  host_batch_ = nullptr;  // `largest` is gone: backward() needs a forward() again
}

std::vector<int32_t> FineTuneModel::predicted_labels() const {
  MASKLM_CHECK(!is_regression(), "a regression model predicts scores, not labels");
  const Tensor& logits = host_logits_rows_;
  std::vector<int32_t> out(static_cast<size_t>(logits.shape[0]));
  for (int64_t b = 0; b < logits.shape[0]; ++b) {
    int32_t best = 0;
    for (int32_t k = 1; k < num_labels_; ++k)
      if (logit_at(logits, b * num_labels_ + k) > logit_at(logits, b * num_labels_ + best)) best = k;
    out[static_cast<size_t>(b)] = best;
  }
  return out;
}

std::vector<double> FineTuneModel::predicted_scores() const {
  MASKLM_CHECK(is_regression(), "a classification model predicts labels, not scores");
  const Tensor& logits = host_logits_rows_;
  std::vector<double> out(static_cast<size_t>(logits.shape[0]));
  for (int64_t b = 0; b < logits.shape[0]; ++b) out[static_cast<size_t>(b)] = logit_at(logits, b);
  return out;
}

}  // namespace masklm
