// The device a command computes on (its --device option) and the Ctx that goes with it.
// A CUDA DeviceContext owns the CudaContext (stream, cuBLASLt, scratch) of this process's
// GPU (process_gpu_index(): one process per GPU); creating one
// in a build without CUDA, or on a machine without a visible GPU, throws masklm::Error
// saying which of the two it is, before any work is done.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kernels/ops.h"

namespace masklm {

// "cpu" or "cuda" (what --device accepts).
Device parse_device(std::string_view name);
std::string device_name(Device device);

// Throws masklm::Error unless `device` can be used here.
void require_device(Device device);

// The GPU a process uses, one process per GPU: the only visible one (srun
// --gpus-per-task=1, CUDA_VISIBLE_DEVICES per rank), else the one at the launcher's local
// rank (runtime/launcher.h). More processes on a machine than visible GPUs is an error.
int process_gpu_index();

class DeviceContext {
 public:
  explicit DeviceContext(Device device = Device::CPU);

  Device device() const { return ctx_.device; }
  Ctx& ctx() { return ctx_; }
  // "CPU", or the GPU's name and compute capability, for logs.
  const std::string& description() const { return description_; }
  // Throws masklm::Error unless the device computes in `compute_dtype`: bf16 needs sm_80
  // or newer on a GPU (the CPU emulates 16-bit in fp32, kernels/ops.h).
  void require_compute_dtype(DType compute_dtype) const;

 private:
  std::shared_ptr<CudaContext> cuda_;  // GPU only
  Ctx ctx_;
  std::string description_;
  bool bf16_ = true;  // the CPU emulates it; a GPU needs sm_80+
};

}  // namespace masklm
