#include "runtime/arena.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "runtime/device.h"

namespace masklm {

Arena::Arena(size_t capacity_bytes, Device device) : capacity_(capacity_bytes), device_(device) {
  if (capacity_ == 0) return;
  if (device_ == Device::CPU) {
    const size_t rounded = (capacity_ + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    base_ = static_cast<char*>(std::aligned_alloc(kArenaAlignment, rounded));
    MASKLM_CHECK(base_ != nullptr, "out of host memory allocating an arena of {} bytes", capacity_);
  } else {
    base_ = static_cast<char*>(device_malloc(capacity_));
  }
}

Arena Arena::measuring(Device device) {
  Arena a;
  a.measuring_ = true;
  a.device_ = device;
  return a;
}

Arena::~Arena() { release(); }

Arena::Arena(Arena&& o) noexcept { *this = std::move(o); }

Arena& Arena::operator=(Arena&& o) noexcept {
  if (this != &o) {
    release();
    base_ = std::exchange(o.base_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    used_ = std::exchange(o.used_, 0);
    measuring_ = o.measuring_;
    device_ = o.device_;
  }
  return *this;
}

void Arena::release() {
  if (!base_) return;
  if (device_ == Device::CPU)
    std::free(base_);
  else
    device_free(base_);
  base_ = nullptr;
}

Tensor Arena::carve(const Shape& shape, DType dtype, size_t alignment) {
  const size_t offset = (used_ + alignment - 1) / alignment * alignment;
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  MASKLM_CHECK(measuring_ || offset + bytes <= capacity_,
               "arena exhausted: need {} more bytes at offset {}, capacity {}", bytes, offset,
               capacity_);
  used_ = offset + bytes;
  Tensor t;
  t.data = measuring_ ? nullptr : base_ + offset;
  t.shape = shape;
  t.dtype = dtype;
  t.device = device_;
  return t;
}

Tensor Arena::alloc(const Shape& shape, DType dtype) { return carve(shape, dtype, kArenaAlignment); }

Tensor Arena::alloc_packed(const Shape& shape, DType dtype) {
  return carve(shape, dtype, dtype_size(dtype));
}

void Arena::zero() {
  if (!base_ || used_ == 0) return;
  if (device_ == Device::CPU)
    std::memset(base_, 0, used_);
  else
    device_memset_zero(base_, used_);
}

Tensor Arena::flat(DType dtype) const {
  MASKLM_CHECK(used_ % dtype_size(dtype) == 0, "arena size {} is not a multiple of {}", used_,
               dtype_name(dtype));
  Tensor t;
  t.data = base_;
  t.shape = Shape{static_cast<int64_t>(used_ / dtype_size(dtype))};
  t.dtype = dtype;
  t.device = device_;
  return t;
}

}  // namespace masklm
