#include "kernels/device_context.h"

#include <fmt/format.h>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/launcher.h"

namespace masklm {

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  MASKLM_FAIL("unknown device '{}': use cpu or cuda", name);
}

std::string device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

void require_device(Device device) {
  if (device == Device::CPU) return;
  MASKLM_CHECK(cuda_compiled(),
               "device cuda: this masklm was built without CUDA (configure with -DMASKLM_CUDA=ON "
               "on a machine with nvcc); use --device cpu");
  MASKLM_CHECK(!cuda_devices().empty(),
               "device cuda: no CUDA GPU is visible (no GPU, no NVIDIA driver, or "
               "CUDA_VISIBLE_DEVICES hides it; `masklm devices` shows what masklm sees); use "
               "--device cpu");
}

int process_gpu_index() {
  require_device(Device::CUDA);
  const std::vector<DeviceInfo> gpus = cuda_devices();
  if (gpus.size() == 1) return gpus.front().index;
  const int local = launcher_local_rank();
  MASKLM_CHECK(local < static_cast<int>(gpus.size()),
               "local rank {} on this machine, but only {} GPUs are visible: start one process per "
               "GPU",
               local, gpus.size());
  return gpus[static_cast<size_t>(local)].index;
}

DeviceContext::DeviceContext(Device device) : description_("CPU") {
  require_device(device);
  ctx_.device = device;
  if (device == Device::CPU) return;
  const DeviceInfo gpu = cuda_devices()[static_cast<size_t>(process_gpu_index())];
  cuda_ = make_cuda_context(gpu.index);
  ctx_.cuda = cuda_.get();
  description_ =
      fmt::format("GPU {} ({}, sm_{}{})", gpu.index, gpu.name, gpu.sm_major, gpu.sm_minor);
  bf16_ = gpu.bf16;
}

void DeviceContext::require_compute_dtype(DType compute_dtype) const {
  MASKLM_CHECK(
      compute_dtype != DType::BF16 || bf16_,
      "precision bf16 needs a GPU of compute capability 8.0 or newer, and {} is older: "
      "use precision fp16 (with loss scaling) or fp32 (train.precision to pretrain, precision to "
      "fine-tune)",
      description_);
}

}  // namespace masklm
