// What the emulated kernel tests (tests/emulation/test_*_emulated.cpp) share: inputs in a
// kernel's storage type, the same values widened to fp64 for the CPU op that is the
// reference, and each storage type in turn. The kernel runs under cuda_emulator.h; its
// result must match the CPU op in F64 within the storage type's NMSE bound
// (tests/precision_tolerance.h), as on a real GPU (tests/gpu/op_harness.cuh). Buffers are
// std::vectors of the exact size, so AddressSanitizer (CPU build) catches writes past them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cuda/common.cuh"  // the emulation's, with cuda_emulator.h
#include "kernels/cuda/storage.cuh"
#include "kernels/ops.h"
#include "precision_tolerance.h"

namespace masklm::emulated_testing {

using testing::expect_close;
using testing::nmse_bound;

// n normal values of standard deviation `scale` (plus `mean`), rounded to T.
template <typename T>
std::vector<T> random_values(size_t n, double scale, uint64_t seed, double mean = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = cuda::from_float<T>(static_cast<float>(normal(rng)));
  return v;
}

template <typename T> std::vector<double> widen(const std::vector<T>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = cuda::to_float(v[i]);
  return out;
}

// A CPU tensor over a vector of any element type the ops take (float, double, int32_t, and
// the 16-bit storage types of kernels/cuda/precision.h).
template <typename T> Tensor cpu_tensor(std::vector<T>& v, Shape shape) {
  return {v.data(), shape, dtype_of<T>(), Device::CPU};
}
// A CPU tensor over a vector of doubles or int32 ids.
inline Tensor f64(std::vector<double>& v, Shape shape) {
  return {v.data(), shape, DType::F64, Device::CPU};
}
inline Tensor i32(std::vector<int32_t>& v, Shape shape) {
  return {v.data(), shape, DType::I32, Device::CPU};
}

// fn.template operator()<T>() for every storage type of the kernels, each under a trace.
template <typename Fn> void for_each_storage(Fn&& fn) {
  {
    SCOPED_TRACE("F32");
    fn.template operator()<float>();
  }
  {
    SCOPED_TRACE("BF16");
    fn.template operator()<__nv_bfloat16>();
  }
  {
    SCOPED_TRACE("F16");
    fn.template operator()<__half>();
  }
}

// fn.template operator()<W>() for a kernel's scalar instance (W = 1) and, where n values fit
// 16-byte packs (kernels/cuda/storage.cuh; the tests' buffers are vectors, 16-byte aligned),
// for its packed one.
template <typename T, typename Fn> void for_each_width(int64_t n, Fn&& fn) {
  {
    SCOPED_TRACE("scalar loads");
    fn.template operator()<1>();
  }
  if (n % cuda::kPackWidth<T> == 0) {
    SCOPED_TRACE("16-byte packs");
    fn.template operator()<cuda::kPackWidth<T>>();
  }
}

template <typename T> double bound_for() { return nmse_bound(dtype_of<T>()); }

}  // namespace masklm::emulated_testing
