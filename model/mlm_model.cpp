#include "model/mlm_model.h"

#include <algorithm>

#include "kernels/dispatch.h"
#include "model/reservation.h"

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

MlmModel::MlmModel(const ModelConfig& config, Capacity capacity, DType compute_dtype, Device device)
    : config_(config),
      capacity_(capacity),
      compute_dtype_(compute_dtype),
      dtype_(accum_dtype(compute_dtype)),
      device_(device) {
  config_.validate();
  MASKLM_CHECK(
      compute_dtype == DType::F32 || compute_dtype == DType::F64 || is_16bit(compute_dtype),
      "MlmModel computes in F32, BF16, F16 or F64, not {}", dtype_name(compute_dtype));
  MASKLM_CHECK(device == Device::CPU || compute_dtype != DType::F64,
               "the CUDA backend computes in F32, BF16 or F16, not F64");
  const size_t param_bytes = measure_params(config_, dtype_);
  param_arena_ = Arena(param_bytes, device_);
  grad_arena_ = Arena(param_bytes, device_);
  act_arena_ = Arena(measure_activations(config_, capacity_, compute_dtype), device_);
  params_ = layout_params(config_, param_arena_, dtype_);
  grads_ = layout_params(config_, grad_arena_, dtype_);
  layout_activations(config_, capacity_, act_arena_, compute_dtype, acts_, scratch_);
  if (is_16bit(compute_dtype))
    compute_copy_ = ComputeCopy(config_, params_, compute_dtype, device_);
  // Zero everything once: padding between tensors then stays zero in flat-buffer ops, and
  // zero_types is ready.
  param_arena_.zero();
  grad_arena_.zero();
  act_arena_.zero();
  if (config_.skip_corrupted) skip_.reserve(capacity_.max_tokens, device_);
  if (device_ != Device::CPU) batch_arrays_ = BatchArrays(capacity_, device_);
  losses_staging_ = HostStaging(acts_.losses);
  correct_staging_ = HostStaging(acts_.correct);
}

void MlmModel::init_weights(uint64_t seed) {
  init_params_in(param_arena_, params_, config_, seed);
  master_weights_changed();
}

void MlmModel::reserve_device_memory(Ctx& ctx, int64_t seq_len) {
  if (device_ == Device::CPU) return;
  MASKLM_CHECK(seq_len > 0 && seq_len <= config_.max_position_embeddings,
               "reserve_device_memory: sequence length {} outside [1, {}]", seq_len,
               config_.max_position_embeddings);
  // Every op's scratch grows with the token count N or the prediction count P (never with
  // how N splits into sequences), so N and P at capacity reach every maximum; the encoder
  // of the skip-corrupted model sees all N tokens when nothing is corrupted.
  std::vector<int64_t> lengths(static_cast<size_t>(capacity_.max_tokens / seq_len), seq_len);
  if (capacity_.max_tokens % seq_len > 0) lengths.push_back(capacity_.max_tokens % seq_len);
  Batch full;
  for (const std::vector<int32_t>& ids : filler_sequences(lengths, config_.vocab_size))
    full.add_sequence(ids);
  const int64_t predictions = std::min(capacity_.max_predictions, full.num_tokens());
  for (int64_t p = 0; p < predictions; ++p)
    full.add_prediction(static_cast<int32_t>(p), full.tokens[static_cast<size_t>(p)]);
  run_reservation_step(ctx, std::max(batch_arrays_.device_bytes(), skip_.device_bytes()),
                       grad_arena_.flat(dtype_), [&](const DropoutPlan& dropout) {
                         forward(ctx, full, dropout);
                         backward(ctx, dropout);
                       });
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
  MASKLM_CHECK(ctx.device == device_, "the model lives on the {}, the Ctx is for the {}",
               device_ == Device::CPU ? "CPU" : "GPU", ctx.device == Device::CPU ? "CPU" : "GPU");
  compute_copy_.refresh_if_stale(ctx, param_arena_);
  batch_ = batch_arrays_.load(ctx, batch);
  if (config_.skip_corrupted) {
    skip_.split(ctx, config_, batch);
    encoder_out_ = skip_forward(ctx, config_, weights(), acts_, batch_, skip_, dropout);
  } else {
    encoder_out_ = encoder_forward(ctx, config_, weights(), acts_, batch_, dropout);
  }
  mlm_head_forward(ctx, config_, weights(), acts_, batch_, encoder_out_, vocab_chunk_);

  MlmStats stats;
  stats.predictions = batch_.num_predictions;
  const Tensor losses = losses_staging_.read(ctx, acts_.losses.rows(0, stats.predictions));
  const int32_t* correct =
      correct_staging_.read(ctx, acts_.correct.rows(0, stats.predictions)).ptr<int32_t>();
  double sum = 0;
  for (int64_t p = 0; p < stats.predictions; ++p) {
    sum += dtype_ == DType::F64 ? losses.ptr<double>()[p] : losses.ptr<float>()[p];
    stats.correct += correct[p];
  }
  stats.loss = sum / static_cast<double>(stats.predictions);
  return stats;
}

void MlmModel::backward(Ctx& ctx, const DropoutPlan& dropout, const GradsReady& ready,
                        double loss_scale) {
  MASKLM_CHECK(batch_.num_tokens > 0, "backward() needs a forward() first");
  const Tensor d_enc = scratch_.d_stream_b.rows(0, batch_.num_tokens);
  fill_zero(ctx, d_enc);
  const ModelParams& w = weights();
  const ModelParams& g = grads_.params;
  mlm_head_backward(ctx, w, g, acts_, scratch_, batch_, d_enc, vocab_chunk_, loss_scale);
  if (config_.skip_corrupted)
    skip_backward(ctx, config_, w, g, acts_, scratch_, batch_, skip_, dropout, d_enc, ready);
  else
    encoder_backward(ctx, config_, w, g, acts_, scratch_, batch_, dropout, d_enc, ready);
}

}  // namespace masklm
