// The pretraining loop: gradient accumulation over micro-batches up to the global batch,
// the LR schedule, AdamW with optional clipping, non-finite steps skipped, periodic
// validation, metrics, checkpoints (train/checkpoint.h) and a clean stop on SIGINT/SIGTERM
// (train/stop_signal.h).
//
// The loss of a step is the mean over every prediction of the global batch: micro-batch k
// contributes its mean loss weighted by P_k / P_total, whatever the split.
//
// Data parallel (train/data_parallel.h, docs/distributed.md): with W ranks, rank r runs
// micro-batches [r·A, (r+1)·A) of each step's batch_size / micro_batch_size (A of them
// per rank), so W ranks see exactly the sequences, masks and dropout draws of one rank
// running all of them. Gradients, losses and counts are summed over ranks weighted by
// predictions; every rank decides skips and stops together; rank 0 alone logs and writes
// checkpoints (the run directory must be shared by all ranks to resume).
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "kernels/device_context.h"
#include "model/mlm_model.h"
#include "train/batch_prefetcher.h"
#include "train/batch_source.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/evaluate.h"
#include "train/flops.h"
#include "train/loss_scaler.h"
#include "train/optimizer.h"
#include "train/run_config.h"
#include "train/run_log.h"

namespace masklm {

struct StepResult {
  int64_t step = 0;               // 0-based index of the step just done
  double loss = 0, accuracy = 0;  // over the global batch (NaN when the loss was not finite)
  double lr = 0, grad_norm = 0;
  TokenCounts counts;  // over the global batch
  // Non-finite loss or gradient (or, in fp16, gradients that overflowed at the loss scale,
  // which lowers the scale): the parameters were not touched.
  bool skipped = false;
};

struct TrainerHooks {
  // After each micro-batch's backward, once its gradients may be read; tests poison gradients
  // here. With train.overlap_comm on several ranks the step's last micro-batch's hook runs
  // after the step's all-reduce has finished (the buckets are in flight until then): it sees
  // the gradients summed over the ranks and scaled, and what it writes stays on its rank.
  // Otherwise (one rank, or the reduction after the backward) it sees the rank's own
  // gradients before any reduction. Not called for a micro-batch whose loss was non-finite.
  // In fp16 runs the gradients are those of the loss times the loss scale.
  std::function<void(int64_t step, int64_t micro, MlmModel& model)> after_backward;
  std::function<void(const StepResult&)> on_step;
};

enum class TrainOutcome { FINISHED, STOPPED };

class Trainer {
 public:
  // `config.model.vocab_size` must be resolved. `validation` may be null (no evaluation).
  // With a non-empty run_dir the trainer writes metrics, events and checkpoints there and
  // prints progress to `terminal` (nullptr: silent). `comm` (default: world_comm(), the
  // ranks of the launcher) gives the data-parallel ranks; `train` is the global source.
  // On Device::CUDA the parameters, gradients, AdamW state and activations live on this
  // process's GPU (process_gpu_index()); batches are built on the host (the next step's
  // on a worker thread while a step computes: train/batch_prefetcher.h) and copied, losses
  // come back once per micro-batch; several ranks need an NCCL communicator.
  Trainer(const RunConfig& config, const BatchSource& train, const BatchSource* validation,
          const std::filesystem::path& run_dir, TrainerHooks hooks = {}, FILE* terminal = nullptr,
          std::shared_ptr<Comm> comm = nullptr, Device device = Device::CPU);
  ~Trainer();

  // Restores the newest checkpoint in run_dir/checkpoints; false when there is none. Every
  // rank must find the same one (the run directory on a filesystem they all see): an error
  // on every rank otherwise.
  bool resume();
  void resume_from(const std::filesystem::path& checkpoint_dir);

  // Trains until train.steps, or until a stop is requested (then checkpoints and returns
  // STOPPED). Throws masklm::Error after train.max_bad_steps non-finite steps in a row,
  // leaving the parameters and checkpoints as they were before those steps.
  TrainOutcome run();
  StepResult train_step();
  EvalResult evaluate();
  // Collective: every rank calls it (ZeRO-1 gathers the optimizer state through the
  // gradient buffer, so only between steps); rank 0 writes. A GPU whose kernels found bad
  // input since the last step's checks, on any rank, is an error on every rank here,
  // before anything is gathered or written.
  void save_checkpoint();

  int64_t step() const { return state_.step; }
  // What a checkpoint records, the fp16 loss scaler's state included.
  TrainerState state() const;
  MlmModel& model() { return *model_; }
  AdamW& optimizer() { return *optimizer_; }
  const DeviceContext& device_context() const { return device_; }
  DeviceContext& device_context() { return device_; }
  std::filesystem::path checkpoints_dir() const { return run_dir_ / "checkpoints"; }

 private:
  void log_progress(const StepResult& r);
  // Whether `x` holds on any rank (collective; no communication on one rank).
  bool on_any_rank(bool x) const;

  RunConfig config_;
  nlohmann::json resolved_config_;
  const BatchSource* validation_;
  std::unique_ptr<BatchPrefetcher> prefetcher_;  // this rank's micro-batches of `train`
  std::filesystem::path run_dir_;
  TrainerHooks hooks_;
  DeviceContext device_;  // before the model, which lives on its device
  std::unique_ptr<MlmModel> model_;
  std::unique_ptr<DataParallel> dp_;
  bool overlap_comm_ = false;  // several ranks, train.overlap_comm, no ZeRO-1
  std::unique_ptr<AdamW> optimizer_;
  std::optional<LossScaler> loss_scaler_;  // train.precision fp16 only
  std::unique_ptr<RunLog> log_;
  Ctx& ctx_ = device_.ctx();
  TrainerState state_;
  int64_t last_checkpoint_step_ = -1;
};

}  // namespace masklm
