// The emulation's CUB radix sort (cuda_runtime.h says why): SortPairs as kernels/cuda/rows.cu
// calls it, a stable sort of (key, value) pairs on bits [begin_bit, end_bit) of the keys, with
// signed keys in numeric order as CUB orders them. Asked for its temporary storage size
// (d_temp_storage null), it asks for a little, as CUB does, and checks that it got it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

namespace cub {

struct DeviceRadixSort {
  static constexpr size_t kTempBytes = 256;

  template <typename Key, typename Value>
  static cudaError_t SortPairs(void* d_temp_storage, size_t& temp_storage_bytes, const Key* keys_in,
                               Key* keys_out, const Value* values_in, Value* values_out,
                               int num_items, int begin_bit = 0,
                               int end_bit = static_cast<int>(sizeof(Key) * 8),
                               cudaStream_t stream = nullptr) {
    static_assert(std::is_integral_v<Key> && sizeof(Key) <= sizeof(uint64_t));
    if (!d_temp_storage) {
      temp_storage_bytes = kTempBytes;
      return cudaSuccess;
    }
    if (temp_storage_bytes < kTempBytes || num_items < 0 || begin_bit < 0 || end_bit < begin_bit ||
        end_bit > static_cast<int>(sizeof(Key) * 8))
      return cudaErrorInvalidValue;
    // Stream work, like a kernel.
    emulator::streams.enqueue(stream, [=] {
      const auto access = emulator::device_access();
      // The bits radix sort orders by: the sign bit flipped, so negative keys come first.
      const auto radix = [&](Key key) {
        auto bits = static_cast<uint64_t>(static_cast<std::make_unsigned_t<Key>>(key));
        if constexpr (std::is_signed_v<Key>) bits ^= uint64_t{1} << (sizeof(Key) * 8 - 1);
        const int width = end_bit - begin_bit;
        return width == 64 ? bits >> begin_bit : (bits >> begin_bit) & ((uint64_t{1} << width) - 1);
      };
      std::vector<std::pair<Key, Value>> pairs(static_cast<size_t>(num_items));
      for (size_t i = 0; i < pairs.size(); ++i) pairs[i] = {keys_in[i], values_in[i]};
      std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& x, const auto& y) {
        return radix(x.first) < radix(y.first);
      });
      for (size_t i = 0; i < pairs.size(); ++i) std::tie(keys_out[i], values_out[i]) = pairs[i];
    });
    return cudaSuccess;
  }
};

}  // namespace cub
