#include "kernels/cpu/f32_views.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "kernels/cpu/convert.h"
#include "kernels/dispatch.h"

namespace masklm::cpu {
namespace {

// The calling thread's scratch: one buffer per 16-bit tensor of an op (slot k serves the
// k-th), each as large as the largest it has served. Slots are handed out in a stack, so
// F32Views objects may nest.
struct ScratchSlots {
  std::vector<std::vector<float>> buffers;
  size_t in_use = 0;
};
thread_local ScratchSlots slots;

uint16_t* bits(const Tensor& t) { return static_cast<uint16_t*>(t.data); }

}  // namespace

F32Views::F32Views()
    : first_slot_(slots.in_use), uncaught_exceptions_(std::uncaught_exceptions()) {}

F32Views::~F32Views() {
  if (std::uncaught_exceptions() == uncaught_exceptions_)
    for (size_t i = 0; i < write_back_count_; ++i) {
      const WriteBack& w = write_backs_[i];
      round_to_16bit(w.target.dtype, bits(w.target), w.values, w.target.numel());
    }
  slots.in_use = first_slot_;
}

Tensor F32Views::scratch_like(const Tensor& t) {
  if (slots.buffers.size() == slots.in_use) slots.buffers.emplace_back();
  std::vector<float>& buffer = slots.buffers[slots.in_use++];
  // At least one element, so the view of an empty-shaped tensor is not mistaken for an
  // absent (null) one.
  const auto n = static_cast<size_t>(std::max<int64_t>(t.numel(), 1));
  if (buffer.size() < n) buffer.resize(n);
  return Tensor{buffer.data(), t.shape, DType::F32, Device::CPU};
}

Tensor F32Views::write_back_later(const Tensor& target, const Tensor& values) {
  MASKLM_CHECK(write_back_count_ < kMaxOutputs, "F32Views: more than {} 16-bit outputs",
               kMaxOutputs);
  write_backs_[write_back_count_++] = {target, static_cast<const float*>(values.data)};
  return values;
}

Tensor F32Views::in(const Tensor& t) {
  if (t.empty() || !is_16bit(t.dtype)) return t;
  const Tensor wide = scratch_like(t);
  widen_16bit(wide.ptr<float>(), t.dtype, bits(t), t.numel());
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

}  // namespace masklm::cpu
