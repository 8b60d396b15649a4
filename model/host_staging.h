// The small results that host code reads from a model's buffers (a forward's losses, a
// task head's logits) and the host-computed gradients it writes back (a task loss's
// d_logits), on any device and in any compute dtype: host code sees F32 (or F64, I32)
// host values, and a 16-bit or GPU tensor goes through staging memory sized once.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/ops.h"

namespace masklm {

class HostStaging {
 public:
  HostStaging() = default;
  // Room for any tensor up to `largest`'s size, device and dtype.
  explicit HostStaging(const Tensor& largest);

  // `t` (no larger than `largest`) readable on the host: `t` itself when it is host memory
  // and not 16-bit; else copied from the GPU once the work queued before has finished
  // (synchronize(), which also reports bad inputs the kernels found) and 16-bit values
  // widened to F32. Valid until the next call.
  Tensor read(Ctx& ctx, const Tensor& t);
  // Zeroed host values for write() to put into `dst`: `dst` itself when it is host memory
  // and not 16-bit, else staging: F32 for a 16-bit `dst`, dst's dtype for a GPU one.
  Tensor zeroed_values_for(const Tensor& dst);
  // Puts `values` (from zeroed_values_for(dst)) into `dst`: nothing to do when they are
  // `dst` itself, else rounded to 16 bits if `dst` is, and uploaded to its device on ctx's
  // stream (kernels/ops.h's upload(), which does not wait for the GPU).
  void write(Ctx& ctx, const Tensor& dst, const Tensor& values);

 private:
  // A host tensor of t's shape in `dtype` on the staging memory.
  Tensor staged(std::vector<std::byte>& memory, const Tensor& t, DType dtype);

  std::vector<std::byte> copied_;   // GPU tensors: their bytes on the host
  std::vector<std::byte> widened_;  // 16-bit tensors: their values in F32
};

}  // namespace masklm
