#include "runtime/tensor.h"

#include <fmt/format.h>

namespace masklm {

Shape::Shape(std::initializer_list<int64_t> d) {
  MASKLM_CHECK(d.size() <= kMaxDims, "tensors have at most {} dimensions", kMaxDims);
  for (int64_t v : d) dims[static_cast<size_t>(ndim++)] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= dims[static_cast<size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; ++i)
    if ((*this)[i] != o[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += fmt::format("{}{}", i ? ", " : "", (*this)[i]);
  return s + "]";
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  MASKLM_CHECK(shape.ndim >= 1 && 0 <= begin && begin <= end && end <= shape[0],
               "rows [{}, {}) out of range for shape {}", begin, end, shape.str());
  Tensor t = *this;
  t.shape.dims[0] = end - begin;
  const int64_t row = shape[0] ? numel() / shape[0] : 0;
  // A measuring arena hands out null views; keep them null rather than offset them.
  if (data) t.data = static_cast<char*>(data) + begin * row * static_cast<int64_t>(dtype_size(dtype));
  return t;
}

Tensor Tensor::view(Shape s) const {
  MASKLM_CHECK(s.numel() == numel(), "cannot view {} as {}", shape.str(), s.str());
  Tensor t = *this;
  t.shape = s;
  return t;
}

void check_shape(const Tensor& t, const Shape& expected, const char* name) {
  MASKLM_CHECK(t.shape == expected, "{} has shape {}, expected {}", name, t.shape.str(),
               expected.str());
}

void check_dtype(const Tensor& t, DType expected, const char* name) {
  MASKLM_CHECK(t.dtype == expected, "{} has dtype {}, expected {}", name, dtype_name(t.dtype),
               dtype_name(expected));
}

}  // namespace masklm
