// The shared harness of the GPU op tests (STYLE.md points 2-5): every op runs on the CPU
// (the reference) and on the GPU from the same host inputs, and the GPU results must
//  - leave the guard bands around every device buffer untouched (out-of-bounds writes),
//  - have NaN/Inf exactly where the reference has them,
//  - be non-vacuous (the reference is not all zeros),
//  - and agree with the reference within the dtype's NMSE bound (tests/precision_tolerance.h;
//    or bitwise, where the GPU adds in the CPU's order).
// Every test body starts with MASKLM_SKIP_WITHOUT_GPU(), so GPU-less machines skip cleanly.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/precision.h"
#include "kernels/ops.h"
#include "precision_tolerance.h"
#include "runtime/cuda_context.h"
#include "runtime/device.h"

#define MASKLM_SKIP_WITHOUT_GPU()                                                 \
  do {                                                                            \
    if (::masklm::cuda_devices().empty()) GTEST_SKIP() << "no CUDA device present"; \
  } while (0)

// For tests of train.attention cudnn: skips in builds without cuDNN (CMake's MASKLM_CUDNN).
// A function, not a constant: nvcc would call the code after a constant skip unreachable.
#define MASKLM_SKIP_WITHOUT_CUDNN()                                                       \
  do {                                                                                    \
    if (!::masklm::gpu_testing::built_with_cudnn())                                       \
      GTEST_SKIP() << "built without cuDNN (CMake's MASKLM_CUDNN)";                       \
  } while (0)

namespace masklm::gpu_testing {

inline bool built_with_cudnn() {
#if MASKLM_WITH_CUDNN
  return true;
#else
  return false;
#endif
}

using testing::expect_close;  // tests/precision_tolerance.h
using testing::nmse_bound;

// Host values rounded to a 16-bit storage type, and 16-bit (or any) values widened to
// double for the F64 CPU reference and the comparison.
template <typename T16> std::vector<T16> to_storage(const std::vector<float>& v) {
  std::vector<T16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = T16(v[i]);
  return out;
}
// fn.template operator()<T16>() for both 16-bit storage types, each under a trace naming it.
template <typename Fn> void for_each_16bit(Fn&& fn) {
  {
    SCOPED_TRACE("BF16");
    fn.template operator()<__nv_bfloat16>();
  }
  {
    SCOPED_TRACE("F16");
    fn.template operator()<__half>();
  }
}
template <typename T> std::vector<double> widen(const std::vector<T>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(static_cast<float>(v[i]));
  return out;
}

// The bits written around every device buffer; no op writes these values by chance.
constexpr uint32_t kGuardBits = 0x7F7FDEADu;
constexpr int64_t kGuardElements = 1024;  // 4-byte words: 4 KiB on each side

// A device buffer of 2- or 4-byte elements with guard bands on both sides (a 2-byte
// buffer's last partial word belongs to the back band).
class GuardedBuffer {
 public:
  GuardedBuffer(const void* host, int64_t count, size_t element_bytes, cudaStream_t stream)
      : payload_bytes_(static_cast<size_t>(count) * element_bytes), stream_(stream) {
    EXPECT_TRUE(element_bytes == 2 || element_bytes == 4) << element_bytes;
    std::vector<uint32_t> image = guard_image();
    if (payload_bytes_ > 0) std::memcpy(image.data() + kGuardElements, host, payload_bytes_);
    base_ = static_cast<uint32_t*>(device_malloc(image.size() * sizeof(uint32_t)));
    device_copy(base_, image.data(), image.size() * sizeof(uint32_t), stream_);
  }
  ~GuardedBuffer() { device_free(base_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  void* data() const { return base_ + kGuardElements; }
  // Number of guard bytes that changed.
  int64_t damaged_guards() const {
    const std::vector<uint32_t> expected = guard_image();
    std::vector<uint32_t> image(expected.size());
    device_copy(image.data(), base_, image.size() * sizeof(uint32_t), stream_);
    const auto* got = reinterpret_cast<const unsigned char*>(image.data());
    const auto* want = reinterpret_cast<const unsigned char*>(expected.data());
    const size_t payload_begin = kGuardElements * sizeof(uint32_t);
    int64_t damaged = 0;
    for (size_t b = 0; b < image.size() * sizeof(uint32_t); ++b)
      if (b < payload_begin || b >= payload_begin + payload_bytes_) damaged += got[b] != want[b];
    return damaged;
  }

 private:
  // The whole buffer as guard words: the payload rounded up to words, guards around it.
  std::vector<uint32_t> guard_image() const {
    const size_t payload_words = (payload_bytes_ + sizeof(uint32_t) - 1) / sizeof(uint32_t);
    return std::vector<uint32_t>(payload_words + 2 * kGuardElements, kGuardBits);
  }

  uint32_t* base_ = nullptr;
  size_t payload_bytes_;
  cudaStream_t stream_;
};

// One GPU, its Ctx, and the guarded device copies of a test's tensors.
class GpuOps {
 public:
  CudaContext cuda;
  Ctx ctx{Device::CUDA, &cuda};

  // A device copy of `host` viewed as `shape` (F32, I32, or with kernels/cuda/precision.h
  // BF16 and F16).
  template <typename T> Tensor up(const std::vector<T>& host, Shape shape) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 2, "guarded buffers hold 2- or 4-byte elements");
    EXPECT_EQ(shape.numel(), static_cast<int64_t>(host.size()));
    buffers_.push_back(std::make_unique<GuardedBuffer>(host.data(), shape.numel(), sizeof(T), cuda.stream()));
    return Tensor{buffers_.back()->data(), shape, dtype_of<T>(), Device::CUDA};
  }
  template <typename T> Tensor up(const std::vector<T>& host) {
    return up(host, Shape{static_cast<int64_t>(host.size())});
  }
  // An output the op must overwrite completely: filled with NaN, so a missed element fails.
  template <typename T = float> Tensor output(Shape shape) {
    return up(std::vector<T>(static_cast<size_t>(shape.numel()), T(std::nanf(""))), shape);
  }
  // The values of a device tensor made by up()/output(); reports kernel-raised errors.
  template <typename T> std::vector<T> down(const Tensor& t) {
    cuda.synchronize();
    std::vector<T> host(static_cast<size_t>(t.numel()));
    copy_tensor(host_tensor(host, t.shape), t, cuda.stream());
    return host;
  }
  // Every buffer's guard bands are intact (call at the end of each test).
  void expect_guards_intact() {
    cuda.synchronize();
    for (size_t b = 0; b < buffers_.size(); ++b)
      EXPECT_EQ(buffers_[b]->damaged_guards(), 0) << "guard band of device buffer #" << b << " was written";
  }

 private:
  std::vector<std::unique_ptr<GuardedBuffer>> buffers_;
};

// Bit-for-bit equality, for ops that compute exactly what the CPU computes.
template <typename T> void expect_bitwise_equal(const std::vector<T>& gpu, const std::vector<T>& ref, const std::string& what) {
  ASSERT_EQ(gpu.size(), ref.size()) << what;
  int64_t differing = 0, first = -1;
  for (size_t i = 0; i < ref.size(); ++i)
    if (std::memcmp(&gpu[i], &ref[i], sizeof(T)) != 0 && differing++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(differing, 0) << what << ": " << differing << " values differ in their bits, first at " << first;
}

inline Ctx cpu_ctx() { return Ctx{}; }

// n ids in [0, limit) where id `hot` makes up about a third (like [MASK] in a batch), so
// the backward's runs of equal ids are long as well as short.
inline std::vector<int32_t> random_ids(int64_t n, int64_t limit, uint32_t seed, int32_t hot = 0) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = rng() % 3 == 0 ? hot : static_cast<int32_t>(rng() % static_cast<uint32_t>(limit));
  return ids;
}

}  // namespace masklm::gpu_testing
