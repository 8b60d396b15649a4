#include "train/data_parallel.h"

#include <cmath>

#include "runtime/device.h"

namespace masklm {

namespace {

Tensor flat_view(const Arena& arena, DType dtype, int64_t elements) {
  return arena.flat(dtype).rows(0, elements);
}

}  // namespace

std::vector<ElemRange> gradient_buckets(const ParamLayout& grads, int64_t bucket_bytes) {
  MASKLM_CHECK(bucket_bytes > 0, "gradient buckets need a positive size, got {}", bucket_bytes);
  const int64_t elem = static_cast<int64_t>(dtype_size(grads.table.front().view.dtype));
  std::vector<ElemRange> buckets;
  // Buckets tile [0, N) without gaps; the alignment padding between tensors rides along.
  int64_t end = element_span(grads);
  for (auto e = grads.table.rbegin(); e != grads.table.rend(); ++e) {
    const int64_t begin = element_offset(grads, *e);
    if ((end - begin) * elem >= bucket_bytes) {
      buckets.push_back({begin, end});
      end = begin;
    }
  }
  if (end > 0) buckets.push_back({0, end});
  return buckets;
}

DataParallel::DataParallel(std::shared_ptr<Comm> comm, const MlmModel& model, Ctx& ctx,
                           bool zero1, int64_t bucket_bytes)
    : comm_(std::move(comm)),
      zero1_(zero1),
      elements_(element_span(model.params())),
      buckets_(gradient_buckets(model.grads(), bucket_bytes)) {
  MASKLM_CHECK(element_span(model.grads()) == elements_,
               "parameters and gradients must share one layout");
  comm_->bind(ctx);
  const int w = world_size(), r = rank();
  block_ = elements_ / w;
  owned_ = zero1_ ? ElemRange{r * block_, r == w - 1 ? elements_ : (r + 1) * block_}
                  : ElemRange{0, elements_};
}

Tensor DataParallel::flat_grads(MlmModel& model) const {
  return flat_view(model.grad_arena(), model.dtype(), elements_);
}

void DataParallel::reduce_gradients(Ctx& ctx, MlmModel& model, double scale) {
  if (!zero1_) {
    start_reduction(ctx, model, scale);
    finish_reduction();
    return;
  }
  const Tensor grads = flat_grads(model);
  if (scale != 1.0) scale_inplace(ctx, grads, scale);
  const int64_t blocks_end = block_ * world_size();
  comm_->reduce_scatter_sum(grads.rows(0, blocks_end));
  // The N % W leftover elements belong to the last rank; all-reducing them is as cheap.
  if (blocks_end < elements_) comm_->all_reduce_sum(grads.rows(blocks_end, elements_));
}

void DataParallel::start_reduction(Ctx& ctx, MlmModel& model, double scale) {
  MASKLM_CHECK(!zero1_, "ZeRO-1 reduce-scatters the gradients after the backward pass");
  ctx_ = &ctx;
  grads_ = flat_grads(model);
  scale_ = scale;
  next_bucket_ = 0;
}

GradsReady DataParallel::grads_ready() {
  return [this](const Tensor& first_final) {
    start_buckets_from((static_cast<const char*>(first_final.data) -
                        static_cast<const char*>(grads_.data)) /
                       static_cast<int64_t>(dtype_size(grads_.dtype)));
  };
}

void DataParallel::start_buckets_from(int64_t offset) {
  MASKLM_CHECK(ctx_, "start_reduction() first");
  for (; next_bucket_ < buckets_.size() && buckets_[next_bucket_].begin >= offset; ++next_bucket_) {
    const Tensor bucket = grads_.rows(buckets_[next_bucket_].begin, buckets_[next_bucket_].end);
    if (scale_ != 1.0) scale_inplace(*ctx_, bucket, scale_);
    comm_->start_all_reduce_sum(bucket);
  }
}

void DataParallel::finish_reduction() {
  start_buckets_from(0);
  comm_->wait_all();
  ctx_ = nullptr;
}

double DataParallel::grad_norm(Ctx& ctx, const AdamW& optimizer, double grad_scale) const {
  if (!zero1_) return optimizer.grad_norm(ctx, grad_scale);
  return std::sqrt(comm_->sum(optimizer.owned_grad_sum_squares(ctx))) * grad_scale;
}

void DataParallel::gather_owned(const Tensor& flat) const {
  const int64_t blocks_end = block_ * world_size();
  comm_->all_gather(flat.rows(0, blocks_end));
  if (blocks_end < elements_) comm_->broadcast(flat.rows(blocks_end, elements_), world_size() - 1);
}

void DataParallel::gather_parameters(MlmModel& model) const {
  if (!zero1_) return;
  gather_owned(flat_view(model.param_arena(), model.dtype(), elements_));
  model.master_weights_changed();  // the compute copy was updated over the owned range only
}

void DataParallel::gather_optimizer_state(const AdamW& sharded, MlmModel& model,
                                          AdamW* full) const {
  MASKLM_CHECK(!full || (full->owned().begin == 0 && full->owned().end == elements_),
               "the gathered optimizer must own every parameter");
  const ElemRange o = sharded.owned();
  const Tensor staging = flat_grads(model);
  for (const bool first : {true, false}) {
    copy_tensor(staging.rows(o.begin, o.end),
                first ? sharded.first_moment() : sharded.second_moment());
    gather_owned(staging);
    if (full) copy_tensor(first ? full->first_moment() : full->second_moment(), staging);
  }
  if (full) full->set_steps_taken(sharded.steps_taken());
}

void DataParallel::scatter_optimizer_state(const AdamW& full, AdamW& sharded) const {
  const ElemRange o = sharded.owned();
  copy_tensor(sharded.first_moment(), full.first_moment().rows(o.begin, o.end));
  copy_tensor(sharded.second_moment(), full.second_moment().rows(o.begin, o.end));
  sharded.set_steps_taken(full.steps_taken());
}

}  // namespace masklm
