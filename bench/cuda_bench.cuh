// What the GPU benchmarks (bench/bench_cuda_*.cu) share: the device's peak rates, device
// tensors filled on the host, and cudaEvent timing on the ops' stream (Google Benchmark's
// manual time), with the L2 cache flushed before each timed call of a kernel benchmark.
//
// Peaks (printed in the benchmark header and in docs/gpu.md):
//  - HBM bandwidth is queried: 2 (double data rate) x memory clock x bus width / 8.
//  - FLOP/s come from the spec sheet of the GPU each compute capability stands for, dense,
//    at boost clock: sm_80 A100 SXM (FP32 19.5, BF16 tensor 312 TFLOP/s), sm_86 A10 (31.2,
//    125), sm_90 H100 SXM (66.9, 989.4; an H200 is the same, an H100 PCIe lower: 51.2, 756).
//    Other GPUs get no FLOP fraction.
// fp32 cases keep TF32 off (CUBLAS_COMPUTE_32F), so their FLOP fractions are of the FP32
// (non-tensor) peak; 16-bit cases (training's bf16 mixed precision) are of the BF16
// tensor-core peak.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/precision.h"
#include "kernels/ops.h"
#include "runtime/arena.h"
#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"
#include "runtime/device.h"

namespace masklm::bench {

struct DevicePeaks {
  std::string name = "none";
  int sm = 0;                  // compute capability, e.g. 90
  double hbm_bytes_per_s = 0;  // queried
  double fp32_flops = 0;       // spec table; 0 when the GPU is not in it
  double bf16_flops = 0;
  int64_t l2_bytes = 0;
};

inline DevicePeaks query_device_peaks() {
  DevicePeaks p;
  const std::vector<DeviceInfo> gpus = cuda_devices();
  if (gpus.empty()) return p;
  const DeviceInfo& gpu = gpus.front();
  p.name = gpu.name;
  p.sm = gpu.sm_major * 10 + gpu.sm_minor;
  int mem_khz = 0, bus_bits = 0, l2 = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, gpu.index));
  CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, gpu.index));
  CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, gpu.index));
  p.hbm_bytes_per_s = 2.0 * mem_khz * 1e3 * bus_bits / 8.0;
  p.l2_bytes = l2;
  struct Spec {
    int sm;
    double fp32_tflops, bf16_tflops;
  };
  for (const Spec& s : {Spec{80, 19.5, 312.0}, Spec{86, 31.2, 125.0}, Spec{90, 66.9, 989.4}})
    if (s.sm == p.sm) p.fp32_flops = s.fp32_tflops * 1e12, p.bf16_flops = s.bf16_tflops * 1e12;
  return p;
}

inline const DevicePeaks& device_peaks() {
  static const DevicePeaks peaks = query_device_peaks();
  return peaks;
}

// The peaks in the benchmark output's header (Google Benchmark's custom context).
inline const bool kPeaksInHeader = [] {
  const DevicePeaks& p = device_peaks();
  benchmark::AddCustomContext(
      "gpu",
      fmt::format("{} (sm_{}): HBM {:.0f} GB/s (queried); FP32 {:.1f}, BF16 {:.1f} TFLOP/s (spec "
                  "table, 0: not in it); FLOP fractions: fp32 cases (TF32 off) of the FP32 peak, "
                  "16-bit cases of the BF16 peak",
                  p.name, p.sm, p.hbm_bytes_per_s / 1e9, p.fp32_flops / 1e12, p.bf16_flops / 1e12));
  return true;
}();

// GPU 0's context shared by a binary's benchmarks, or null (and the benchmark skipped)
// where there is no GPU.
inline Ctx* gpu_ctx(benchmark::State& state) {
  if (cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return nullptr;
  }
  static CudaContext cuda;
  static Ctx ctx{Device::CUDA, &cuda};
  return &ctx;
}

// Device tensors of one benchmark, filled on the host and freed with it. The values come
// from a multiplicative hash of a running counter: uniform enough for timing inputs, and
// fast enough for the ~10^9 values of the AdamW benchmarks (a Mersenne twister takes
// seconds there).
class DeviceTensors {
 public:
  Tensor uniform(Shape shape, float lo = -1.0f, float hi = 1.0f) {
    return upload(uniform_values(shape.numel(), lo, hi), shape);
  }
  // Uniform values stored as `dtype`: F32, or BF16/F16 for the mixed-precision cases.
  Tensor uniform_as(DType dtype, Shape shape, float lo = -1.0f, float hi = 1.0f) {
    const std::vector<float> values = uniform_values(shape.numel(), lo, hi);
    switch (dtype) {
      case DType::BF16: return upload(std::vector<__nv_bfloat16>(values.begin(), values.end()), shape);
      case DType::F16: return upload(std::vector<__half>(values.begin(), values.end()), shape);
      default: return upload(values, shape);
    }
  }
  // Integers uniform in [lo, hi) (hi - lo well below 2^24).
  Tensor ints(Shape shape, int32_t lo, int32_t hi) {
    std::vector<int32_t> host(static_cast<size_t>(shape.numel()));
    for (int32_t& x : host) x = lo + static_cast<int32_t>(next_u24() % static_cast<uint32_t>(hi - lo));
    return upload(host, shape);
  }
  template <typename T> Tensor upload(std::vector<T> host, Shape shape) {
    arenas_.emplace_back(static_cast<size_t>(shape.numel()) * sizeof(T), Device::CUDA);
    const Tensor t = arenas_.back().alloc(shape, dtype_of<T>());
    copy_tensor(t, host_tensor(host, shape));
    return t;
  }
  Tensor zeros(Shape shape) {
    return upload(std::vector<float>(static_cast<size_t>(shape.numel())), shape);
  }

 private:
  uint32_t next_u24() { return static_cast<uint32_t>((++counter_ * 0x9E3779B97F4A7C15ull) >> 40); }
  std::vector<float> uniform_values(int64_t n, float lo, float hi) {
    std::vector<float> values(static_cast<size_t>(n));
    for (float& x : values) x = lo + (hi - lo) * static_cast<float>(next_u24()) / float(1 << 24);
    return values;
  }

  std::vector<Arena> arenas_;
  uint64_t counter_ = 0;
};

// Twice the L2 cache: writing it evicts whatever a previous call left there.
inline Arena& l2_flush_buffer() {
  static Arena flush(static_cast<size_t>(2 * std::max<int64_t>(device_peaks().l2_bytes, 1)),
                     Device::CUDA);
  return flush;
}

// Times op() on the context's stream with cudaEvents, one untimed call first (GEMM
// algorithm choice, scratch growth). With flush_l2 a memset larger than the L2 cache runs
// before each timed call, so every call reads its inputs from HBM. Returns the seconds
// timed over all iterations.
template <typename Op>
double time_on_gpu(benchmark::State& state, Ctx& ctx, bool flush_l2, Op&& op) {
  const cudaStream_t stream = ctx.cuda->stream();
  Arena* flush = flush_l2 ? &l2_flush_buffer() : nullptr;
  op();
  synchronize(ctx);
  cudaEvent_t start = nullptr, stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  double seconds = 0;
  for (auto _ : state) {
    if (flush) CUDA_CHECK(cudaMemsetAsync(flush->base(), 0, flush->capacity(), stream));
    CUDA_CHECK(cudaEventRecord(start, stream));
    op();
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3);
    seconds += ms / 1e3;
  }
  synchronize(ctx);  // kernel-raised input errors surface here
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return seconds;
}

// Counters for a memory-bound op that moves `bytes` per call: GB/s and % of HBM peak.
inline void report_bytes(benchmark::State& state, double bytes, double seconds) {
  const double rate = bytes * static_cast<double>(state.iterations()) / seconds;
  state.counters["GB/s"] = rate / 1e9;
  state.counters["%HBM"] = 100.0 * rate / device_peaks().hbm_bytes_per_s;
}

// Counters for a compute-bound op of `flops` per call: TFLOP/s and % of the FP32 peak.
inline void report_flops(benchmark::State& state, double flops, double seconds) {
  const double rate = flops * static_cast<double>(state.iterations()) / seconds;
  state.counters["TFLOP/s"] = rate / 1e12;
  if (device_peaks().fp32_flops > 0)
    state.counters["%FP32"] = 100.0 * rate / device_peaks().fp32_flops;
}

// TFLOP/s and % of the BF16 tensor-core peak, for 16-bit kernels.
inline void report_tensor_flops(benchmark::State& state, double flops, double seconds) {
  const double rate = flops * static_cast<double>(state.iterations()) / seconds;
  state.counters["TFLOP/s"] = rate / 1e12;
  if (device_peaks().bf16_flops > 0)
    state.counters["%BF16"] = 100.0 * rate / device_peaks().bf16_flops;
}

// The counters of a compute-bound op in `dtype`: against the FP32 peak for F32, else the
// BF16 tensor-core peak.
inline void report_compute(benchmark::State& state, DType dtype, double flops, double seconds) {
  if (dtype == DType::F32)
    report_flops(state, flops, seconds);
  else
    report_tensor_flops(state, flops, seconds);
}

// The BERT shapes the kernel benchmarks run at (Args index 0 = base, 1 = large).
struct BertShape {
  const char* name;
  int64_t C, NH, F;
};
constexpr BertShape kBertShapes[] = {{"base", 768, 12, 3072}, {"large", 1024, 16, 4096}};
// 128 sequences of 128 tokens, or 32 of 512.
constexpr int64_t kTokens = 16384;

// cu_seqlens of kTokens / seq_len sequences of seq_len tokens.
inline std::vector<int32_t> uniform_cu_seqlens(int64_t seq_len) {
  std::vector<int32_t> cu;
  for (int64_t n = 0; n <= kTokens; n += seq_len) cu.push_back(static_cast<int32_t>(n));
  return cu;
}

}  // namespace masklm::bench
