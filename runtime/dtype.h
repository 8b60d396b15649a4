// Element types of tensors. One enum for storage; compute-type policy lives with the ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace masklm {

enum class DType : uint8_t { F32, F64, BF16, F16, I32, I64 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::BF16:
    case DType::F16: return 2;
  }
  return 0;
}

// Names as safetensors spells them ("F32", "BF16", ...).
std::string_view dtype_name(DType t);
// Parses a safetensors dtype name; throws masklm::Error for names masklm does not support.
DType dtype_from_name(std::string_view name);

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

}  // namespace masklm
