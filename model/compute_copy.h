// Mixed precision's 16-bit copy of the fp32 master weights (kernels/cuda/precision.h): the
// tensors forward and backward read, at the masters' element offsets (model/params.h's
// layout_params_like), so one conversion of the flat buffer refreshes it and AdamW, which
// takes layout() as its compute copy, rewrites it with every update. Whoever writes the
// masters otherwise (initialization, a checkpoint load, ZeRO-1's all-gather) marks it
// stale, and the next forward refreshes it. The MLM model and the fine-tuning models hold
// one each.
#pragma once

#include <memory>

#include "kernels/ops.h"
#include "model/params.h"

namespace masklm {

class ComputeCopy {
 public:
  // No copy: the model computes in its parameters' dtype.
  ComputeCopy() = default;
  // A copy of `masters` (F32, carved from their own arena) in `compute_dtype` (BF16 or F16)
  // on `device`, stale until the first refresh.
  ComputeCopy(const ModelConfig& config, const ParamLayout& masters, DType compute_dtype,
              Device device);

  // The copy's layout, or null when there is none.
  const ParamLayout* layout() const { return layout_.get(); }
  void mark_stale() { stale_ = layout_ != nullptr; }
  // Converts the masters (the whole arena they were carved from) into the copy when stale.
  void refresh_if_stale(Ctx& ctx, const Arena& master_arena);
  // What the kernels read: the copy, or the masters themselves when there is none.
  const ParamLayout& weights(const ParamLayout& masters) const {
    return layout_ ? *layout_ : masters;
  }

 private:
  Arena arena_;
  std::unique_ptr<ParamLayout> layout_;
  bool stale_ = false;
};

}  // namespace masklm
