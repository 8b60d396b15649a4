// Tensor: a non-owning, contiguous, row-major view (pointer, shape, dtype, device).
// Memory always belongs to an Arena (or to the caller); a Tensor never frees anything.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/error.h"

namespace masklm {

enum class Device : uint8_t { CPU, CUDA };

constexpr int kMaxDims = 4;

struct Shape {
  int ndim = 0;
  std::array<int64_t, kMaxDims> dims{};

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  int64_t numel() const;
  int64_t operator[](int i) const { return dims[static_cast<size_t>(i)]; }
  bool operator==(const Shape& o) const;
  std::string str() const;  // "[2, 3]"
};

struct Tensor {
  void* data = nullptr;
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;

  bool empty() const { return data == nullptr; }
  int64_t numel() const { return shape.numel(); }
  int64_t size(int i) const { return shape[i < 0 ? shape.ndim + i : i]; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }

  // Typed pointer; checks the dtype so a view is never reinterpreted silently.
  template <typename T> T* ptr() const {
    MASKLM_CHECK(dtype_of<T>() == dtype, "tensor holds {}, accessed as {}", dtype_name(dtype),
                 dtype_name(dtype_of<T>()));
    return static_cast<T*>(data);
  }
  // Rows [begin, end) of the first dimension, as a view.
  Tensor rows(int64_t begin, int64_t end) const;
  // Same memory, another shape with the same element count.
  Tensor view(Shape s) const;
};

// A CPU view of caller-owned contiguous memory (1-D over the whole vector by default).
template <typename T> Tensor host_tensor(T* data, Shape shape) {
  return Tensor{data, shape, dtype_of<T>(), Device::CPU};
}
template <typename T> Tensor host_tensor(std::vector<T>& v, Shape shape) { return host_tensor(v.data(), shape); }
template <typename T> Tensor host_tensor(std::vector<T>& v) {
  return host_tensor(v.data(), Shape{static_cast<int64_t>(v.size())});
}

// Argument checks used by the ops (throw masklm::Error with the tensor's name).
void check_shape(const Tensor& t, const Shape& expected, const char* name);
void check_dtype(const Tensor& t, DType expected, const char* name);

}  // namespace masklm
