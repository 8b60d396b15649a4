#include "kernels/f32_views.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "kernels/dispatch.h"
#if MASKLM_WITH_CUDA
#include "runtime/cuda_context.h"
#endif  // MASKLM_WITH_CUDA

namespace masklm {
namespace {

// The calling thread's slots: slot k serves the k-th 16-bit tensor of a call, as large as
// the largest it has served (CPU buffers here; a GPU's live in its CudaContext). Slots are
// handed out in a stack: an F32Views may be created while another is alive (an op called
// inside an op) as long as the outer one takes no more views until the inner one is gone.
struct ScratchSlots {
  std::vector<std::vector<float>> host_buffers;
  size_t in_use = 0;
};
thread_local ScratchSlots slots;

}  // namespace

F32Views::F32Views(Ctx& ctx)
    : ctx_(ctx), first_slot_(slots.in_use), uncaught_exceptions_(std::uncaught_exceptions()) {}

F32Views::~F32Views() noexcept(false) {
  slots.in_use = first_slot_;
  if (std::uncaught_exceptions() != uncaught_exceptions_) return;
  for (size_t i = 0; i < write_back_count_; ++i)
    convert(ctx_, write_backs_[i].target, write_backs_[i].values);
}

Tensor F32Views::scratch_like(const Tensor& t) {
  const size_t slot = slots.in_use++;
  // At least one element, so the view of an empty-shaped tensor is not mistaken for an
  // absent (null) one.
  const auto n = static_cast<size_t>(std::max<int64_t>(t.numel(), 1));
  void* data = nullptr;
  if (ctx_.device == Device::CPU) {
    if (slots.host_buffers.size() <= slot) slots.host_buffers.resize(slot + 1);
    std::vector<float>& buffer = slots.host_buffers[slot];
    if (buffer.size() < n) buffer.resize(n);
    data = buffer.data();
  } else {
#if MASKLM_WITH_CUDA
    MASKLM_CHECK(ctx_.cuda != nullptr, "F32Views: a CUDA Ctx needs its CudaContext (Ctx::cuda)");
    data = ctx_.cuda->staging(slot, n * sizeof(float));
#else
    no_cuda_kernel("F32Views");
#endif  // MASKLM_WITH_CUDA
  }
  return Tensor{data, t.shape, DType::F32, ctx_.device};
}

Tensor F32Views::write_back_later(const Tensor& target, const Tensor& values) {
  MASKLM_CHECK(write_back_count_ < kMaxOutputs, "F32Views: more than {} 16-bit outputs",
               kMaxOutputs);
  write_backs_[write_back_count_++] = {target, values};
  return values;
}

Tensor F32Views::in(const Tensor& t) {
  if (t.empty() || !is_16bit(t.dtype)) return t;
  const Tensor wide = scratch_like(t);
  convert(ctx_, wide, t);
  return wide;
}

Tensor F32Views::out(const Tensor& t) {
  if (t.empty() || !is_16bit(t.dtype)) return t;
  return write_back_later(t, scratch_like(t));
}

Tensor F32Views::inout(const Tensor& t) {
  if (t.empty() || !is_16bit(t.dtype)) return t;
  return write_back_later(t, in(t));
}

}  // namespace masklm
