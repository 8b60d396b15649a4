// Data parallelism for the trainer: every rank holds the whole model, trains on its own
// micro-batches of each step, and the ranks sum their gradients before the update.
//
// Without ZeRO the flat gradient buffer is all-reduced in buckets (gradient_buckets()):
// contiguous ranges of about bucket_bytes, in the order backward() produces them (last
// layer first). With train.overlap_comm a bucket starts as soon as the step's last backward
// has finished it (MlmModel::backward's GradsReady hook, after each layer), so its
// all-reduce runs while backward goes on: on a side stream with NCCL, as MPI_Iallreduce on
// CPUs (which progresses only inside MPI calls unless MPI runs a progress thread).
// Otherwise every bucket starts after the backward. Either way each bucket is scaled and
// reduced by the same calls, so the results are bitwise equal.
//
// With ZeRO-1 (train.zero: 1) each rank's AdamW owns one range of the flat buffer (equal
// blocks of N / W elements, the last rank also takes the N % W leftover elements): the
// gradients are reduce-scattered, each rank updates its range, and the parameters are
// all-gathered. The optimizer state per rank shrinks W times; the result is bitwise that
// of unsharded training (the sums are the same, and AdamW is elementwise). Only the
// gradient norm is summed in another order, so with clipping active the two can differ in
// the last bits.
#pragma once

#include <memory>
#include <vector>

#include "model/mlm_model.h"
#include "train/comm.h"
#include "train/optimizer.h"

namespace masklm {

// Element ranges of the flat gradient buffer, each at least bucket_bytes (the last may be
// smaller) and made of whole tensors, from the last tensor of the table to the first.
std::vector<ElemRange> gradient_buckets(const ParamLayout& grads, int64_t bucket_bytes);

class DataParallel {
 public:
  // PyTorch DDP's default bucket size: large enough for full bus bandwidth, small enough
  // that the first bucket starts early in the backward pass.
  static constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;

  // Binds `comm` to ctx's stream (train/comm.h).
  DataParallel(std::shared_ptr<Comm> comm, const MlmModel& model, Ctx& ctx, bool zero1,
               int64_t bucket_bytes = kDefaultBucketBytes);

  Comm& comm() const { return *comm_; }
  int rank() const { return comm_->rank(); }
  int world_size() const { return comm_->world_size(); }
  bool zero1() const { return zero1_; }
  // The part of the flat parameter buffer this rank's optimizer updates.
  ElemRange owned() const { return owned_; }

  // After the step's last backward: grads *= scale on each rank, then summed over the
  // ranks: everywhere (all-reduce), or with ZeRO-1 only in owned() (reduce-scatter).
  void reduce_gradients(Ctx& ctx, MlmModel& model, double scale);

  // The same reduction without ZeRO-1, overlapped with the backward pass: start_reduction()
  // before the step's last backward, whose hook (grads_ready()) starts each bucket once
  // backward has finished it; finish_reduction() after it starts the buckets left (all of
  // them when the backward did not run) and waits for every one.
  void start_reduction(Ctx& ctx, MlmModel& model, double scale);
  GradsReady grads_ready();
  void finish_reduction();
  // The global gradient norm times grad_scale, the same on every rank.
  double grad_norm(Ctx& ctx, const AdamW& optimizer, double grad_scale) const;
  // ZeRO-1, after the update: every rank receives the parameters the others updated.
  void gather_parameters(MlmModel& model) const;

  // ZeRO-1 checkpoints hold the whole optimizer state, as a single-rank run writes it, so
  // they resume on any number of ranks, with or without ZeRO. Collective: the ranks gather
  // it through the model's gradient buffer, whose gradients are spent once a step has
  // updated the parameters (the next step zeroes them), so no GPU needs room for the whole
  // state; it lands in `full` (owning everything, on any device: AdamW::host_state keeps
  // it off the GPU) on the ranks that pass one, rank 0 when it writes the checkpoint.
  void gather_optimizer_state(const AdamW& sharded, MlmModel& model, AdamW* full) const;
  void scatter_optimizer_state(const AdamW& full, AdamW& sharded) const;

 private:
  // `flat` holds N elements of which this rank wrote owned(); afterwards all of them.
  void gather_owned(const Tensor& flat) const;
  Tensor flat_grads(MlmModel& model) const;
  // Starts the buckets [next_bucket_, end) whose lowest element is at or above `offset`.
  void start_buckets_from(int64_t offset);

  std::shared_ptr<Comm> comm_;
  bool zero1_;
  int64_t elements_;  // N: the flat parameter buffer up to the end of the last tensor
  ElemRange owned_;
  int64_t block_;  // ZeRO-1: N / W
  std::vector<ElemRange> buckets_;

  // The reduction in progress (start_reduction to finish_reduction).
  Ctx* ctx_ = nullptr;
  Tensor grads_;
  double scale_ = 1;
  size_t next_bucket_ = 0;
};

}  // namespace masklm
