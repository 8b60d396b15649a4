// Arena: one allocation made up front, carved into 256-byte-aligned tensor views.
// Parameters, gradients, optimizer state and activations each live in one arena, so a
// training step allocates nothing and flat-buffer operations (all-reduce, grad norm,
// checkpointing) are single calls.
//
// Sizing is done by running the same allocation sequence on a measuring arena first
// (Arena::measuring()), then on a real one of the measured size.
#pragma once

#include <cstddef>

#include "runtime/tensor.h"

namespace masklm {

constexpr size_t kArenaAlignment = 256;

class Arena {
 public:
  Arena() = default;
  Arena(size_t capacity_bytes, Device device);
  ~Arena();
  Arena(Arena&& o) noexcept;
  Arena& operator=(Arena&& o) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // An arena that hands out null views and only counts bytes.
  static Arena measuring(Device device = Device::CPU);

  // A view of `shape` elements of `dtype`, aligned to kArenaAlignment.
  Tensor alloc(const Shape& shape, DType dtype);
  // Like alloc, but placed directly after the previous allocation (no alignment gap) so
  // that consecutive tensors form one larger contiguous tensor (e.g. fused Q/K/V weights).
  Tensor alloc_packed(const Shape& shape, DType dtype);

  void zero();  // zeroes the used bytes
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  Device device() const { return device_; }
  // The whole used region as a flat view of `dtype` elements (for flat-buffer ops).
  Tensor flat(DType dtype) const;
  char* base() const { return base_; }

 private:
  Tensor carve(const Shape& shape, DType dtype, size_t alignment);
  void release();

  char* base_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  bool measuring_ = false;
  Device device_ = Device::CPU;
};

}  // namespace masklm
