#include "model/finetune_encoder.h"

#include <algorithm>

#include "kernels/dispatch.h"
#include "model/reservation.h"
#include "model/safetensors.h"
#include "runtime/host_mirror.h"

namespace masklm {

namespace {

void layout_buffers(const ModelConfig& config, Capacity capacity, Shape logits_shape, Arena& arena,
                    DType dtype, Activations& acts, GradScratch& scratch, Tensor& logits,
                    Tensor& d_logits) {
  layout_activations(config, capacity, arena, dtype, acts, scratch);
  logits = arena.alloc(logits_shape, dtype);
  d_logits = arena.alloc(logits_shape, dtype);
}

}  // namespace

ParamLayout layout_finetune_params(const ModelConfig& config,
                                   const std::vector<HeadParamSpec>& head, Arena& arena,
                                   DType dtype) {
  ParamLayout l = layout_params(config, arena, dtype);
  for (const HeadParamSpec& s : head)
    l.table.push_back({s.name, arena.alloc(s.shape, dtype), s.init, s.weight_decay});
  return l;
}

FineTuneEncoder::FineTuneEncoder(const ModelConfig& config, const std::vector<HeadParamSpec>& head,
                                 Capacity capacity, Shape logits, DType compute_dtype,
                                 Device device)
    : config_(config),
      compute_dtype_(compute_dtype),
      dtype_(accum_dtype(compute_dtype)),
      device_(device),
      capacity_(capacity) {
  MASKLM_CHECK(!config.skip_corrupted,
               "fine-tuning uses the plain encoder; the skip-corrupted decoder is dropped");
  config_.validate();
  MASKLM_CHECK(
      compute_dtype == DType::F32 || is_16bit(compute_dtype) ||
          (compute_dtype == DType::F64 && device == Device::CPU),
      "fine-tuning models compute in F32, BF16 or F16 (or F64 on the CPU), not {} on the {}",
      dtype_name(compute_dtype), device == Device::CPU ? "CPU" : "GPU");
  Arena measure_params = Arena::measuring(), measure_acts = Arena::measuring();
  layout_finetune_params(config_, head, measure_params, dtype_);
  layout_buffers(config_, capacity, logits, measure_acts, compute_dtype, acts_, scratch_, logits_,
                 d_logits_);
  param_arena_ = Arena(measure_params.used(), device);
  grad_arena_ = Arena(measure_params.used(), device);
  act_arena_ = Arena(measure_acts.used(), device);
  params_ = layout_finetune_params(config_, head, param_arena_, dtype_);
  grads_ = layout_finetune_params(config_, head, grad_arena_, dtype_);
  head_begin_ = params_.table.size() - head.size();
  layout_buffers(config_, capacity, logits, act_arena_, compute_dtype, acts_, scratch_, logits_,
                 d_logits_);
  if (is_16bit(compute_dtype)) compute_copy_ = ComputeCopy(config_, params_, compute_dtype, device);
  // Zeroed once, as in MlmModel: alignment padding stays zero for the flat optimizer.
  param_arena_.zero();
  grad_arena_.zero();
  act_arena_.zero();
  if (device != Device::CPU) batch_arrays_ = BatchArrays(capacity, device);
  logits_staging_ = HostStaging(logits_);
  d_logits_staging_ = HostStaging(d_logits_);
}

void FineTuneEncoder::init_weights(uint64_t seed) {
  init_params_in(param_arena_, params_, config_, seed);
  master_weights_changed();
}

void FineTuneEncoder::load_encoder(const std::filesystem::path& checkpoint_dir) {
  const SafetensorsFile weights(checkpoint_dir / "model.safetensors");
  // pull() first: the head's weights and the padding between tensors stay as they are.
  HostMirror host(param_arena_);
  host.pull();
  for (size_t i = 0; i < head_begin_; ++i) {
    const ParamEntry& e = params_.table[i];
    MASKLM_CHECK(weights.has(e.name), "checkpoint '{}' has no tensor '{}'", checkpoint_dir.string(),
                 e.name);
    weights.read_into(e.name, host(e.view));
  }
  host.push();
  master_weights_changed();
}

std::vector<std::vector<int32_t>> FineTuneEncoder::largest_batch_sequences() const {
  // As many sequences as the capacity takes, their lengths differing by one at most.
  const int64_t B = std::min(capacity_.max_predictions, capacity_.max_tokens);
  const int64_t N = std::min(capacity_.max_tokens, B * config_.max_position_embeddings);
  std::vector<int64_t> lengths(static_cast<size_t>(B), N / B);
  for (int64_t b = 0; b < N % B; ++b) ++lengths[static_cast<size_t>(b)];
  return filler_sequences(lengths, config_.vocab_size);
}

void FineTuneEncoder::reserve_with(Ctx& ctx, const std::function<void(const DropoutPlan&)>& step) {
  run_reservation_step(ctx, batch_arrays_.device_bytes(), grad_arena_.flat(dtype_), step);
}

Tensor FineTuneEncoder::encode(Ctx& ctx, const Batch& seqs, const DropoutPlan& dropout) {
  MASKLM_CHECK(ctx.device == device_, "the model lives on the {}, the Ctx is for the {}",
               device_ == Device::CPU ? "CPU" : "GPU", ctx.device == Device::CPU ? "CPU" : "GPU");
  seqs.validate(config_.vocab_size, config_.max_position_embeddings, config_.type_vocab_size);
  MASKLM_CHECK(seqs.num_tokens() <= capacity_.max_tokens,
               "batch has {} tokens, the model was sized for {}", seqs.num_tokens(),
               capacity_.max_tokens);
  MASKLM_CHECK(seqs.num_sequences() > 0 && seqs.num_sequences() <= capacity_.max_predictions,
               "batch has {} sequences, the model was sized for 1 to {}", seqs.num_sequences(),
               capacity_.max_predictions);
  compute_copy_.refresh_if_stale(ctx, param_arena_);
  batch_ = batch_arrays_.load(ctx, seqs);
  return encoder_forward(ctx, config_, weights().params, acts_, batch_, dropout);
}

Tensor FineTuneEncoder::zeroed_encoder_grad(Ctx& ctx) {
  const Tensor d_enc = scratch_.d_stream_b.rows(0, batch_.num_tokens);
  fill_zero(ctx, d_enc);
  return d_enc;
}

void FineTuneEncoder::encode_backward(Ctx& ctx, const DropoutPlan& dropout, const Tensor& d_enc) {
  encoder_backward(ctx, config_, weights().params, grads_.params, acts_, scratch_, batch_, dropout,
                   d_enc);
}

Tensor FineTuneEncoder::host_logits(Ctx& ctx, int64_t rows) {
  return logits_staging_.read(ctx, logits_.rows(0, rows));
}

Tensor FineTuneEncoder::zeroed_host_d_logits(int64_t rows) {
  return d_logits_staging_.zeroed_values_for(d_logits_.rows(0, rows));
}

Tensor FineTuneEncoder::upload_d_logits(Ctx& ctx, const Tensor& host) {
  const Tensor d = d_logits_.rows(0, host.shape[0]);
  d_logits_staging_.write(ctx, d, host);
  return d;
}

}  // namespace masklm
