#include "model/compute_copy.h"

#include "kernels/dispatch.h"

namespace masklm {

ComputeCopy::ComputeCopy(const ModelConfig& config, const ParamLayout& masters, DType compute_dtype,
                         Device device)
    : stale_(true) {
  MASKLM_CHECK(is_16bit(compute_dtype), "a compute copy is 16-bit, not {}",
               dtype_name(compute_dtype));
  const auto elements = static_cast<size_t>(element_span(masters));
  arena_ = Arena(elements * dtype_size(compute_dtype), device);
  layout_ =
      std::make_unique<ParamLayout>(layout_params_like(config, masters, arena_, compute_dtype));
}

void ComputeCopy::refresh_if_stale(Ctx& ctx, const Arena& master_arena) {
  if (!stale_) return;
  // Same element offsets, zero padding in both: one conversion of the whole buffer.
  const DType compute_dtype = layout_->table.front().view.dtype;
  convert(ctx, arena_.flat(compute_dtype), master_arena.flat(DType::F32));
  stale_ = false;
}

}  // namespace masklm
