#include "model/finetune_encoder.h"

#include <cstring>

#include "model/safetensors.h"
#include "runtime/device.h"
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
                                 Capacity capacity, Shape logits, DType dtype, Device device)
    : config_(config), dtype_(dtype), device_(device), capacity_(capacity) {
  MASKLM_CHECK(!config.skip_corrupted,
               "fine-tuning uses the plain encoder; the skip-corrupted decoder is dropped");
  config_.validate();
  MASKLM_CHECK(dtype == DType::F32 || (dtype == DType::F64 && device == Device::CPU),
               "fine-tuning models compute in F32 (or F64 on the CPU), not {} on the {}",
               dtype_name(dtype), device == Device::CPU ? "CPU" : "GPU");
  Arena measure_params = Arena::measuring(), measure_acts = Arena::measuring();
  layout_finetune_params(config_, head, measure_params, dtype);
  layout_buffers(config_, capacity, logits, measure_acts, dtype, acts_, scratch_, logits_,
                 d_logits_);
  param_arena_ = Arena(measure_params.used(), device);
  grad_arena_ = Arena(measure_params.used(), device);
  act_arena_ = Arena(measure_acts.used(), device);
  params_ = layout_finetune_params(config_, head, param_arena_, dtype);
  grads_ = layout_finetune_params(config_, head, grad_arena_, dtype);
  head_begin_ = params_.table.size() - head.size();
  layout_buffers(config_, capacity, logits, act_arena_, dtype, acts_, scratch_, logits_, d_logits_);
  // Zeroed once, as in MlmModel: alignment padding stays zero for the flat optimizer.
  param_arena_.zero();
  grad_arena_.zero();
  act_arena_.zero();
  if (device != Device::CPU) {
    batch_arrays_ = BatchArrays(capacity, device);
    host_logits_.resize(logits_.nbytes());
    host_d_logits_.resize(d_logits_.nbytes());
  }
}

void FineTuneEncoder::init_weights(uint64_t seed) {
  init_params_in(param_arena_, params_, config_, seed);
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
  batch_ = batch_arrays_.load(seqs);
  return encoder_forward(ctx, config_, params_.params, acts_, batch_, dropout);
}

Tensor FineTuneEncoder::zeroed_encoder_grad(Ctx& ctx) {
  const Tensor d_enc = scratch_.d_stream_b.rows(0, batch_.num_tokens);
  fill_zero(ctx, d_enc);
  return d_enc;
}

void FineTuneEncoder::encode_backward(Ctx& ctx, const DropoutPlan& dropout, const Tensor& d_enc) {
  encoder_backward(ctx, config_, params_.params, grads_.params, acts_, scratch_, batch_, dropout,
                   d_enc);
}

Tensor FineTuneEncoder::host_copy(Ctx& ctx, const Tensor& t, std::vector<std::byte>& staging) const {
  if (t.device == Device::CPU) return t;
  MASKLM_CHECK(t.nbytes() <= staging.size(), "{} bytes do not fit the {} staged for the host",
               t.nbytes(), staging.size());
  synchronize(ctx);  // reports bad inputs the kernels found
  const Tensor host{staging.data(), t.shape, t.dtype, Device::CPU};
  copy_tensor(host, t);
  return host;
}

Tensor FineTuneEncoder::host_logits(Ctx& ctx, int64_t rows) {
  return host_copy(ctx, logits_.rows(0, rows), host_logits_);
}

Tensor FineTuneEncoder::zeroed_host_d_logits(Ctx& ctx, int64_t rows) {
  const Tensor d = d_logits_.rows(0, rows);
  if (device_ == Device::CPU) {
    fill_zero(ctx, d);
    return d;
  }
  const Tensor host{host_d_logits_.data(), d.shape, d.dtype, Device::CPU};
  std::memset(host.data, 0, host.nbytes());
  return host;
}

Tensor FineTuneEncoder::upload_d_logits(const Tensor& host) {
  const Tensor d = d_logits_.rows(0, host.shape[0]);
  if (device_ != Device::CPU) copy_tensor(d, host);
  return d;
}

}  // namespace masklm
