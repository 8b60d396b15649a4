#include "model/mlm_model.h"

#include <algorithm>

namespace masklm {

namespace {

size_t measure_params(const ModelConfig& config, DType dtype) {
  Arena a = Arena::measuring();
  layout_params(config, a, dtype);
  return a.used();
}

size_t measure_activations(const ModelConfig& config, Capacity cap, DType dtype) {
  Arena a = Arena::measuring();
  Activations acts;
  GradScratch scratch;
  layout_activations(config, cap, a, dtype, acts, scratch);
  return a.used();
}

}  // namespace

MlmModel::MlmModel(const ModelConfig& config, Capacity capacity, DType dtype)
    : config_(config), capacity_(capacity), dtype_(dtype) {
  config_.validate();
  MASKLM_CHECK(dtype == DType::F32 || dtype == DType::F64, "MlmModel computes in F32 or F64, not {}",
               dtype_name(dtype));
  param_arena_ = Arena(measure_params(config_, dtype), Device::CPU);
  grad_arena_ = Arena(measure_params(config_, dtype), Device::CPU);
  act_arena_ = Arena(measure_activations(config_, capacity_, dtype), Device::CPU);
  params_ = layout_params(config_, param_arena_, dtype);
  grads_ = layout_params(config_, grad_arena_, dtype);
  layout_activations(config_, capacity_, act_arena_, dtype, acts_, scratch_);
  // Zero everything once: padding between tensors then stays zero in flat-buffer ops, and
  // zero_types is ready.
  param_arena_.zero();
  grad_arena_.zero();
  act_arena_.zero();
}

void MlmModel::set_vocab_chunk(int64_t chunk) {
  MASKLM_CHECK(chunk > 0, "vocab chunk must be positive, got {}", chunk);
  vocab_chunk_ = chunk;
}

MlmStats MlmModel::forward(Ctx& ctx, const Batch& batch, const DropoutPlan& dropout) {
  batch.validate(config_.vocab_size, config_.max_position_embeddings, config_.type_vocab_size);
  MASKLM_CHECK(batch.num_tokens() <= capacity_.max_tokens, "batch has {} tokens, the model was sized for {}",
               batch.num_tokens(), capacity_.max_tokens);
  MASKLM_CHECK(batch.num_predictions() > 0, "batch has no predicted positions");
  MASKLM_CHECK(batch.num_predictions() <= capacity_.max_predictions,
               "batch has {} predictions, the model was sized for {}", batch.num_predictions(),
               capacity_.max_predictions);
  MASKLM_CHECK(ctx.device == Device::CPU, "MlmModel runs on the CPU backend in this build");
  batch_ = BatchTensors{host_view(batch.tokens), host_view(batch.positions), host_view(batch.types),
                        host_view(batch.cu_seqlens), host_view(batch.predict_index), host_view(batch.labels),
                        batch.num_tokens(), batch.num_predictions()};
  encoder_out_ = encoder_forward(ctx, config_, params_.params, acts_, batch_, dropout);
  mlm_head_forward(ctx, config_, params_.params, acts_, batch_, encoder_out_, vocab_chunk_);

  MlmStats stats;
  stats.predictions = batch_.num_predictions;
  const int32_t* correct = acts_.correct.ptr<int32_t>();
  double sum = 0;
  for (int64_t p = 0; p < stats.predictions; ++p) {
    sum += dtype_ == DType::F64 ? acts_.losses.ptr<double>()[p] : acts_.losses.ptr<float>()[p];
    stats.correct += correct[p];
  }
  stats.loss = sum / static_cast<double>(stats.predictions);
  return stats;
}

void MlmModel::backward(Ctx& ctx, const DropoutPlan& dropout) {
  MASKLM_CHECK(batch_.num_tokens > 0, "backward() needs a forward() first");
  const Tensor d_enc = scratch_.d_stream_b.rows(0, batch_.num_tokens);
  fill_zero(ctx, d_enc);
  mlm_head_backward(ctx, config_, params_.params, grads_.params, acts_, scratch_, batch_, d_enc, vocab_chunk_);
  encoder_backward(ctx, config_, params_.params, grads_.params, acts_, scratch_, batch_, dropout, d_enc);
}

}  // namespace masklm
