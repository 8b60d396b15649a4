#include "model/batch_arrays.h"

#include <array>

namespace masklm {

BatchArrays::Buffers BatchArrays::carve(Arena& arena, Capacity cap) {
  const int64_t N = cap.max_tokens, P = cap.max_predictions;
  Buffers b;
  b.tokens = arena.alloc({N}, DType::I32);
  b.positions = arena.alloc({N}, DType::I32);
  b.types = arena.alloc({N}, DType::I32);
  b.cu_seqlens = arena.alloc({N + 1}, DType::I32);  // sequences are never empty, so B <= N
  b.predict_index = arena.alloc({P}, DType::I32);
  b.labels = arena.alloc({P}, DType::I32);
  return b;
}

BatchArrays::BatchArrays(Capacity capacity, Device device) : device_(device) {
  if (device_ == Device::CPU) return;
  Arena measuring = Arena::measuring(device_);
  carve(measuring, capacity);
  arena_ = Arena(measuring.used(), device_);
  buffers_ = carve(arena_, capacity);
}

BatchTensors BatchArrays::load(Ctx& ctx, const Batch& b) {
  if (device_ == Device::CPU)
    return BatchTensors{host_view(b.tokens), host_view(b.positions), host_view(b.types), host_view(b.cu_seqlens),
                        host_view(b.predict_index), host_view(b.labels), b.num_tokens(), b.num_predictions()};
  const Buffers& d = buffers_;
  MASKLM_CHECK(b.num_tokens() <= d.tokens.numel() && b.num_predictions() <= d.labels.numel(),
               "batch of {} tokens and {} predictions exceeds the device buffers ({} and {})", b.num_tokens(),
               b.num_predictions(), d.tokens.numel(), d.labels.numel());
  // The first v.size() rows of each buffer (an empty view for an empty v) take v.
  const auto rows = [](const Tensor& buffer, const std::vector<int32_t>& v) {
    return v.empty() ? Tensor{} : buffer.rows(0, static_cast<int64_t>(v.size()));
  };
  const BatchTensors t{rows(d.tokens, b.tokens),
                       rows(d.positions, b.positions),
                       rows(d.types, b.types),
                       rows(d.cu_seqlens, b.cu_seqlens),
                       rows(d.predict_index, b.predict_index),
                       rows(d.labels, b.labels),
                       b.num_tokens(),
                       b.num_predictions()};
  upload(
      ctx,
      std::array{Upload{t.tokens, host_view(b.tokens)}, Upload{t.positions, host_view(b.positions)},
                 Upload{t.types, host_view(b.types)}, Upload{t.cu_seqlens, host_view(b.cu_seqlens)},
                 Upload{t.predict_index, host_view(b.predict_index)},
                 Upload{t.labels, host_view(b.labels)}});
  return t;
}

}  // namespace masklm
