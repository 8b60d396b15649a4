#include "train/trainer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>

#include "runtime/log.h"
#include "train/flops.h"
#include "train/stop_signal.h"

namespace masklm {

Trainer::Trainer(const RunConfig& config, const BatchSource& train, const BatchSource* validation,
                 const std::filesystem::path& run_dir, TrainerHooks hooks, FILE* terminal,
                 std::shared_ptr<Comm> comm, Device device)
    : config_(config),
      resolved_config_(run_config_to_json(config)),
      validation_(validation),
      run_dir_(run_dir),
      hooks_(std::move(hooks)),
      device_(device) {
  // P <= N, so sizing predictions like tokens fits any masking rate.
  const int64_t max_tokens = config_.train.micro_batch_size * config_.train.seq_len;
  const TrainConfig& t = config_.train;
  device_.require_compute_dtype(t.precision);
  MASKLM_CHECK(!attention_needs_16bit_gpu(t.attention) || device == Device::CUDA,
               "train.attention {} runs on a GPU (--device cuda); the CPU has the reference "
               "kernel only (train.attention auto or reference)",
               attention_kernel_name(t.attention));
  ctx_.attention = t.attention;
  model_ = std::make_unique<MlmModel>(config_.model, Capacity{max_tokens, max_tokens},
                                      t.precision, device);
  model_->init_weights(t.seed);
  if (t.precision == DType::F16) loss_scaler_.emplace();
  dp_ = std::make_unique<DataParallel>(comm ? std::move(comm) : world_comm(device), *model_, ctx_,
                                       t.zero == 1,
                                       std::max<int64_t>(1, std::llround(t.bucket_mib * (1 << 20))));
  const int world = dp_->world_size();
  MASKLM_CHECK(device == Device::CPU || world == 1 || dp_->comm().name() == "NCCL",
               "data-parallel training on GPUs needs the NCCL communicator, got {}",
               dp_->comm().name());
  overlap_comm_ = world > 1 && t.overlap_comm && !dp_->zero1();
  MASKLM_CHECK(t.accumulation_steps() % world == 0,
               "train.batch_size ({}) must be a multiple of train.micro_batch_size ({}) times "
               "the {} data-parallel ranks",
               t.batch_size, t.micro_batch_size, world);
  // Once the configuration has passed its checks: one full-capacity step.
  model_->reserve_device_memory(ctx_, t.seq_len);
  // Under ZeRO-1 the copy is refreshed whole after the parameters' all-gather, so AdamW
  // does not write its shard of it.
  const ParamLayout* compute_copy = dp_->zero1() ? nullptr : model_->compute_copy();
  optimizer_ = std::make_unique<AdamW>(model_->params(), model_->grads(), t.optimizer,
                                       dp_->owned(), compute_copy);
  const int64_t micros = t.accumulation_steps() / world;
  prefetcher_ = std::make_unique<BatchPrefetcher>(train, micros * dp_->rank(), micros);
  if (world > 1 && dp_->rank() == 0) {
    log_info("data parallel: {} ranks over {}, {} micro-batches of {} per rank and step{}{}", world,
             dp_->comm().name(), micros, t.micro_batch_size, dp_->zero1() ? ", ZeRO-1" : "",
             overlap_comm_ ? ", gradient all-reduce overlapped with the backward" : "");
    if (t.overlap_comm && dp_->zero1())
      log_info("train.overlap_comm: ZeRO-1 reduce-scatters the gradients after the backward "
               "pass, without overlap");
  }
  if (!run_dir_.empty() && dp_->rank() == 0) {
    std::filesystem::create_directories(run_dir_);
    log_ = std::make_unique<RunLog>(run_dir_, terminal);
  }
}

Trainer::~Trainer() = default;

bool Trainer::resume() {
  const auto latest = latest_checkpoint(checkpoints_dir());
  // A rank that cannot load its checkpoint still takes part in the comparison below (as
  // step -1), so the others stop with a reason instead of waiting for it.
  std::exception_ptr failed;
  if (latest) {
    try {
      resume_from(*latest);
    } catch (...) {
      failed = std::current_exception();
    }
  }
  // Ranks that went on from different steps would sum gradients of different weights. Each
  // rank compares its step with the sum over all (sums of such integers are exact in
  // doubles); if any step differs, some rank's differs from the mean, and all hear of it.
  const double step = failed ? -1.0 : static_cast<double>(state_.step);
  std::array<double, 1> total{step};
  dp_->comm().sum_host(total);
  std::array<double, 1> differing{total[0] == step * dp_->world_size() ? 0.0 : 1.0};
  dp_->comm().sum_host(differing);
  if (failed) std::rethrow_exception(failed);
  MASKLM_CHECK(differing[0] == 0,
               "the ranks did not resume from the same checkpoint (rank {} is at step {} from "
               "{}): every rank must see the run directory, on a filesystem they share, and "
               "load it (a rank that could not says why)",
               dp_->rank(), state_.step, latest ? latest->string() : "no checkpoint");
  return latest.has_value();
}

void Trainer::resume_from(const std::filesystem::path& checkpoint_dir) {
  if (dp_->zero1()) {
    const auto full = AdamW::host_state(model_->params(), model_->grads(), config_.train.optimizer);
    state_ = load_checkpoint(checkpoint_dir, *model_, *full);
    dp_->scatter_optimizer_state(*full, *optimizer_);
  } else {
    state_ = load_checkpoint(checkpoint_dir, *model_, *optimizer_);
  }
  if (loss_scaler_ && !state_.loss_scaler.is_null()) loss_scaler_->restore(state_.loss_scaler);
  state_.loss_scaler = nullptr;  // the live scaler holds it now; state() reads it from there
  last_checkpoint_step_ = state_.step;
  log_info("resumed from {} at step {}", checkpoint_dir.string(), state_.step);
}

StepResult Trainer::train_step() {
  const TrainConfig& t = config_.train;
  const auto start = std::chrono::steady_clock::now();
  const int64_t step = state_.step;
  // This rank's micro-batches of the step: [first, first + micros) of all of them.
  const int64_t micros = prefetcher_->count();
  const int64_t first = prefetcher_->first();
  const std::vector<Batch> batches = prefetcher_->take(step);
  StepResult r;
  r.step = step;
  r.lr = t.lr.at(step);
  for (const Batch& b : batches)
    r.counts += {b.num_tokens(), b.num_predictions(), b.num_corrupted()};

  // backward() adds the gradient of micro-batch k's MEAN loss (times the fp16 loss scale).
  // Keeping the accumulated gradient at sum_j P_j g_j / P_k (rescaled when P changes)
  // makes the final grad_scale P_last / P_total give the mean over every prediction of the
  // global batch; the loss scale is divided out with it.
  const double loss_scale = loss_scaler_ ? loss_scaler_->scale() : 1.0;
  const double local_predictions = static_cast<double>(r.counts.predictions);
  double grad_scale =
      static_cast<double>(batches.back().num_predictions()) / local_predictions / loss_scale;
  const bool distributed = dp_->world_size() > 1;
  if (distributed) {
    // Each rank's gradient, weighted by its share of the step's predictions, is summed; the
    // share is known before the backward, whose buckets may start the sum.
    std::array<double, 3> counts{static_cast<double>(r.counts.tokens), local_predictions,
                                 static_cast<double>(r.counts.corrupted)};
    dp_->comm().sum_host(counts);
    r.counts = {static_cast<int64_t>(counts[0]), static_cast<int64_t>(counts[1]),
                static_cast<int64_t>(counts[2])};
    grad_scale *= local_predictions / static_cast<double>(r.counts.predictions);
    if (overlap_comm_) dp_->start_reduction(ctx_, *model_, grad_scale);
  }
  const Tensor grads = model_->grad_arena().flat(model_->dtype());
  model_->zero_grads(ctx_);
  double loss_sum = 0;
  int64_t correct = 0;
  bool finite = true;
  for (int64_t k = 0; k < micros && finite; ++k) {
    const Batch& batch = batches[static_cast<size_t>(k)];
    // Each micro-batch of each step draws its own dropout masks.
    const DropoutPlan dropout{
        RngKey{t.seed, static_cast<uint32_t>(step * t.accumulation_steps() + first + k), 0,
               RngStream::HIDDEN_DROPOUT, 0},
        true};
    const MlmStats s = model_->forward(ctx_, batch, dropout);
    finite = std::isfinite(s.loss);
    if (!finite) break;
    loss_sum += s.loss * static_cast<double>(s.predictions);
    correct += s.correct;
    if (k > 0) {
      const int64_t previous = batches[static_cast<size_t>(k - 1)].num_predictions();
      if (previous != s.predictions)
        scale_inplace(ctx_, grads,
                      static_cast<double>(previous) / static_cast<double>(s.predictions));
    }
    // Only the step's last backward finishes gradients that can be sent.
    const bool last = k + 1 == micros;
    const bool reducing = overlap_comm_ && last;
    model_->backward(ctx_, dropout, reducing ? dp_->grads_ready() : GradsReady{}, loss_scale);
    // Buckets all-reduced during the backward may not be read (nor written) before the wait.
    if (hooks_.after_backward && !reducing) hooks_.after_backward(step, k, *model_);
  }
  if (distributed) {
    // Every rank starts every bucket, also one that stopped at a non-finite loss (its sums
    // are then discarded with the step), so the collectives match up.
    if (overlap_comm_) {
      dp_->finish_reduction();
      if (hooks_.after_backward && finite) hooks_.after_backward(step, micros - 1, *model_);
    }
    // A non-finite loss anywhere skips the step everywhere.
    std::array<double, 3> totals{loss_sum, static_cast<double>(correct), finite ? 0.0 : 1.0};
    dp_->comm().sum_host(totals);
    loss_sum = totals[0];
    correct = static_cast<int64_t>(totals[1]);
    finite = totals[2] == 0;
    if (finite && !overlap_comm_) dp_->reduce_gradients(ctx_, *model_, grad_scale);
    grad_scale = 1;
  }
  bool overflow = false;  // fp16 gradients overflowed at this loss scale: not a bad step
  if (finite) {
    r.grad_norm = dp_->grad_norm(ctx_, *optimizer_, grad_scale);
    finite = std::isfinite(r.grad_norm);
    if (loss_scaler_) overflow = loss_scaler_->overflowed_at_scale(!finite);
  }

  ++state_.step;
  if (finite) {
    optimizer_->update(ctx_, r.lr, grad_scale, r.grad_norm);
    dp_->gather_parameters(*model_);
    r.loss = loss_sum / static_cast<double>(r.counts.predictions);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.counts.predictions);
    state_.bad_steps_in_row = 0;
  } else {
    r.skipped = true;
    r.loss = r.accuracy = std::numeric_limits<double>::quiet_NaN();
    ++state_.skipped_steps;
    if (overflow) {
      log_info("step {}: fp16 gradients overflowed at loss scale {}, step skipped; the scale is "
               "now {}",
               step, loss_scale, loss_scaler_->scale());
    } else {
      ++state_.bad_steps_in_row;
      if (dp_->rank() == 0)  // every rank skips it: one line says so
        log_warn("step {}: non-finite loss or gradient norm, step skipped (the parameters are "
                 "unchanged)",
                 step);
    }
  }
  if (hooks_.on_step) hooks_.on_step(r);
  state_.log_window.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MASKLM_CHECK(
      state_.bad_steps_in_row < t.max_bad_steps,
      "{} non-finite training steps in a row (steps {} to {}, train.max_bad_steps = {}): stopping. "
      "None of "
      "them reached the parameters; the last checkpoint is intact. Lower train.lr.peak or set "
      "train.optimizer.clip_norm.",
      state_.bad_steps_in_row, step + 1 - state_.bad_steps_in_row, step, t.max_bad_steps);
  return r;
}

EvalResult Trainer::evaluate() {
  MASKLM_CHECK(validation_ != nullptr, "evaluation needs a validation source");
  return evaluate_mlm(ctx_, *model_, *validation_, config_.train.eval_batches);
}

TrainerState Trainer::state() const {
  TrainerState s = state_;
  if (loss_scaler_) s.loss_scaler = loss_scaler_->state();
  return s;
}

void Trainer::save_checkpoint() {
  MASKLM_CHECK(!run_dir_.empty(), "checkpoints need a run directory");
  // The state's host copies do not read the device's error flag: a kernel of the last
  // backward or update that met bad input may have left garbage in the state, and through
  // the summed gradients in every rank's. The ranks agree before the gather and the write.
  std::exception_ptr failed;
  try {
    synchronize(ctx_);
  } catch (const Error&) {
    failed = std::current_exception();
  }
  const bool any_failed = on_any_rank(failed != nullptr);
  if (failed) std::rethrow_exception(failed);
  MASKLM_CHECK(!any_failed,
               "another rank's GPU kernels found bad input since the last step; no checkpoint "
               "written (that rank's error says which)");
  const auto dir = checkpoint_path(checkpoints_dir(), state_.step);
  last_checkpoint_step_ = state_.step;
  std::unique_ptr<AdamW> full;
  if (dp_->zero1()) {
    if (dp_->rank() == 0)
      full = AdamW::host_state(model_->params(), model_->grads(), config_.train.optimizer);
    dp_->gather_optimizer_state(*optimizer_, *model_, full.get());
  }
  if (dp_->rank() != 0) return;
  masklm::save_checkpoint(dir, *model_, full ? *full : *optimizer_, state(), resolved_config_);
  prune_checkpoints(checkpoints_dir(), config_.train.keep_last);
  log_info("checkpoint written: {}", dir.string());
}

TrainOutcome Trainer::run() {
  const TrainConfig& t = config_.train;
  // A killed run logged steps after its last checkpoint; they are logged again from here.
  if (log_) log_->drop_records_after(state_.step);
  while (state_.step < t.steps) {
    log_progress(train_step());
    const int64_t done = state_.step;
    const bool last = done == t.steps;
    if (validation_ && ((t.eval_every > 0 && done % t.eval_every == 0) || last)) {
      const EvalResult e = evaluate();
      if (log_) log_->eval(done, e);
    }
    if (!run_dir_.empty() && ((t.checkpoint_every > 0 && done % t.checkpoint_every == 0) || last))
      save_checkpoint();
    if (on_any_rank(stop_requested())) {  // stop after this step when any rank was asked to
      if (!run_dir_.empty() && last_checkpoint_step_ != done) save_checkpoint();
      return TrainOutcome::STOPPED;
    }
  }
  return TrainOutcome::FINISHED;
}

bool Trainer::on_any_rank(bool x) const { return dp_->world_size() > 1 ? dp_->comm().any(x) : x; }

void Trainer::log_progress(const StepResult& r) {
  const TrainConfig& t = config_.train;
  // Checkpointed with the trainer state: a run resumed between two records averages the
  // same steps as the uninterrupted run.
  LogWindow& w = state_.log_window;
  ++w.steps;
  w.counts += r.counts;
  if (!r.skipped) {
    ++w.finite_steps;
    w.loss += r.loss;
    w.accuracy += r.accuracy;
  }
  const int64_t done = r.step + 1;
  if (done % t.log_every != 0 && done != t.steps) return;
  if (log_) {
    TrainRecord rec;
    rec.step = done;
    rec.total_steps = t.steps;
    const double finite = static_cast<double>(w.finite_steps);
    rec.loss = w.finite_steps ? w.loss / finite : std::numeric_limits<double>::quiet_NaN();
    rec.accuracy = w.finite_steps ? w.accuracy / finite : std::numeric_limits<double>::quiet_NaN();
    rec.lr = r.lr;
    rec.grad_norm = r.grad_norm;
    rec.tokens_per_second = static_cast<double>(w.counts.tokens) / w.seconds;
    rec.model_flops_per_second = mlm_training_flops(config_.model, w.counts, t.seq_len) / w.seconds;
    rec.eta_seconds =
        w.seconds / static_cast<double>(w.steps) * static_cast<double>(t.steps - done);
    rec.skipped_steps = state_.skipped_steps;
    if (loss_scaler_) rec.loss_scale = loss_scaler_->scale();
    log_->train(rec);
  }
  state_.log_window = LogWindow{};
}

}  // namespace masklm
