// A batch's index arrays as the tensors the ops read. On the CPU the ops read the Batch's
// vectors in place; on a GPU they are uploaded into one device arena sized once for the
// model's capacity, so loading a batch allocates nothing, and queued behind the work
// already on the stream (kernels/ops.h's upload()), so it does not wait for the GPU.
#pragma once

#include "model/activations.h"
#include "model/batch.h"
#include "model/encoder.h"

namespace masklm {

class BatchArrays {
 public:
  BatchArrays() = default;
  BatchArrays(Capacity capacity, Device device);

  // Views of the batch on ctx's device (on the CPU: of the batch itself, which must then
  // stay alive and unchanged while they are used). The batch must fit the capacity.
  BatchTensors load(Ctx& ctx, const Batch& batch);
  // The size of the device buffers, which no load() uploads more than.
  size_t device_bytes() const { return arena_.capacity(); }

 private:
  // Capacity-sized device buffers; a batch uses their first rows.
  struct Buffers {
    Tensor tokens, positions, types, cu_seqlens, predict_index, labels;
  };
  static Buffers carve(Arena& arena, Capacity capacity);

  Device device_ = Device::CPU;
  Arena arena_;
  Buffers buffers_;
};

}  // namespace masklm
