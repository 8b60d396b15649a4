#include "model/span_extraction.h"

namespace masklm {

namespace {

constexpr int64_t kStart = 0, kEnd = 1;  // the two columns of the (N, 2) logits

}  // namespace

std::vector<HeadParamSpec> span_head_specs(const ModelConfig& config) {
  return {{"qa_outputs.weight", Shape{2, config.hidden_size}, ParamInit::NORMAL, true},
          {"qa_outputs.bias", Shape{2}, ParamInit::ZEROS, false}};
}

void SpanBatch::add(const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                    int32_t start, int32_t end) {
  const int64_t n = static_cast<int64_t>(ids.size());
  MASKLM_CHECK(n > 0, "a sequence for span extraction needs at least one token");
  MASKLM_CHECK(types.empty() || types.size() == ids.size(), "{} token types for {} tokens",
               types.size(), n);
  MASKLM_CHECK(start >= 0 && start < n && end >= 0 && end < n,
               "answer span [{}, {}] outside a sequence of {} tokens", start, end, n);
  seqs.add_sequence(ids);
  seqs.types.insert(seqs.types.end(), types.begin(), types.end());
  starts.push_back(start);
  ends.push_back(end);
}

void SpanBatch::clear() {
  // Cleared in place: the vectors keep their capacity from step to step.
  for (auto* v : {&seqs.tokens, &seqs.positions, &seqs.types, &seqs.cu_seqlens, &starts, &ends})
    v->clear();
}

SpanExtractionModel::SpanExtractionModel(const ModelConfig& config, int64_t max_tokens,
                                         int64_t max_sequences, DType compute_dtype, Device device)
    : FineTuneEncoder(config, span_head_specs(config), Capacity{max_tokens, max_sequences},
                      Shape{max_tokens, 2}, compute_dtype, device),
      qa_weight_(head_param(0)),
      qa_bias_(head_param(1)),
      qa_weight_grad_(head_grad(0)),
      qa_bias_grad_(head_grad(1)) {}

double SpanExtractionModel::forward(Ctx& ctx, const SpanBatch& batch, const DropoutPlan& dropout) {
  encoded_ = encode(ctx, batch.seqs, dropout);
  host_batch_ = &batch;
  matmul_forward(ctx, logits_rows(), encoded_, qa_weight_, qa_bias_);
  host_logits_rows_ = host_logits(ctx, batch_.num_tokens);
  return span_xent_forward(host_logits_rows_, batch.seqs.cu_seqlens, batch.starts, batch.ends);
}

void SpanExtractionModel::backward(Ctx& ctx, const DropoutPlan& dropout, double loss_scale) {
  MASKLM_CHECK(host_batch_ != nullptr, "backward() needs a forward() first");
  const SpanBatch& b = *host_batch_;
  const Tensor host_d_logits = zeroed_host_d_logits(batch_.num_tokens);
  span_xent_backward(host_d_logits, host_logits_rows_, b.seqs.cu_seqlens, b.starts, b.ends,
                     loss_scale / static_cast<double>(b.size()));
  const Tensor d_enc = zeroed_encoder_grad(ctx);
  matmul_backward(ctx, d_enc, qa_weight_grad_, qa_bias_grad_, upload_d_logits(ctx, host_d_logits),
                  encoded_, qa_weight_);
  encode_backward(ctx, dropout, d_enc);
}

void SpanExtractionModel::reserve_device_memory(Ctx& ctx) {
  SpanBatch largest;
  for (const std::vector<int32_t>& ids : largest_batch_sequences()) largest.add(ids, {}, 0, 0);
  reserve_with(ctx, [&](const DropoutPlan& dropout) {
    forward(ctx, largest, dropout);
    backward(ctx, dropout);
  });
  host_batch_ = nullptr;  // `largest` is gone: backward() needs a forward() again
}

std::vector<SpanLogits> SpanExtractionModel::span_logits() const {
  MASKLM_CHECK(host_batch_ != nullptr, "span_logits() needs a forward() first");
  const Tensor& logits = host_logits_rows_;
  auto at = [&](int64_t i) {
    return logits.dtype == DType::F64 ? logits.ptr<double>()[i]
                                      : static_cast<double>(logits.ptr<float>()[i]);
  };
  const std::vector<int32_t>& cu = host_batch_->seqs.cu_seqlens;
  std::vector<SpanLogits> out(cu.size() - 1);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int64_t i = cu[b]; i < cu[b + 1]; ++i) {
      out[b].start.push_back(at(i * 2 + kStart));
      out[b].end.push_back(at(i * 2 + kEnd));
    }
  return out;
}

}  // namespace masklm
