#include "model/batch_arrays.h"

#include "runtime/device.h"

namespace masklm {

namespace {

// The first v.size() values of `buffer`, holding a copy of v; empty for an empty v.
Tensor upload(const Tensor& buffer, const std::vector<int32_t>& v) {
  if (v.empty()) return Tensor{};
  const Tensor rows = buffer.rows(0, static_cast<int64_t>(v.size()));
  copy_tensor(rows, host_view(v));
  return rows;
}

}  // namespace

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

BatchTensors BatchArrays::load(const Batch& b) {
  if (device_ == Device::CPU)
    return BatchTensors{host_view(b.tokens), host_view(b.positions), host_view(b.types), host_view(b.cu_seqlens),
                        host_view(b.predict_index), host_view(b.labels), b.num_tokens(), b.num_predictions()};
  const Buffers& d = buffers_;
  MASKLM_CHECK(b.num_tokens() <= d.tokens.numel() && b.num_predictions() <= d.labels.numel(),
               "batch of {} tokens and {} predictions exceeds the device buffers ({} and {})", b.num_tokens(),
               b.num_predictions(), d.tokens.numel(), d.labels.numel());
  return BatchTensors{upload(d.tokens, b.tokens), upload(d.positions, b.positions), upload(d.types, b.types),
                      upload(d.cu_seqlens, b.cu_seqlens), upload(d.predict_index, b.predict_index),
                      upload(d.labels, b.labels), b.num_tokens(), b.num_predictions()};
}

}  // namespace masklm
