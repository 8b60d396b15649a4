// What a GPU older than sm_80 (a V100, sm_70) refuses, on the emulated device told to report
// that capability (tests/emulation/include/cuda_runtime.h; emulated build only): bf16, with
// a message that names the precisions it can run, and a sweep whose fine-tuning asks for
// bf16, before any cell runs or anything is written.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "eval/sweep_runner.h"
#include "eval/sweep_spec.h"
#include "expect_error.h"
#include "kernels/device_context.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;

// The emulated GPU reports compute capability 7.0 for one test.
class OlderGpuEmulated : public ::testing::Test {
 protected:
  void SetUp() override { emulator::reported_capability = {7, 0}; }
  void TearDown() override { emulator::reported_capability = {}; }
};

TEST_F(OlderGpuEmulated, RefusesBf16ButComputesInFp16AndFp32) {
  const DeviceContext gpu(Device::CUDA);
  EXPECT_NE(gpu.description().find("sm_70"), std::string::npos) << gpu.description();
  testing::expect_error([&] { gpu.require_compute_dtype(DType::BF16); },
                        {"bf16 needs a GPU of compute capability 8.0 or newer", "fp16", "fp32"});
  gpu.require_compute_dtype(DType::F16);
  gpu.require_compute_dtype(DType::F32);
}

TEST_F(OlderGpuEmulated, ASweepFineTuningInBf16IsRefusedBeforeAnyCell) {
  const fs::path dir = fs::temp_directory_path() / "masklm_test_older_gpu_sweep";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "sweep.yaml";
  std::ofstream(file) << "base: " << MASKLM_SOURCE_DIR << "/configs/tiny.yaml\n"
                      << "axes:\n  - data.mask_rate: [0.15, 0.4]\n"
                      << "finetune:\n  - {task: glue/sst2, data: " << dir.string()
                      << ", set: {precision: fp16}, grid: [{precision: [fp16, bf16]}]}\n";
  testing::expect_error(
      [&] { run_sweep(load_sweep(file), file, dir / "out", Device::CUDA, nullptr); },
      {"the sweep's fine-tuning of glue/sst2", "compute capability 8.0 or newer"});
  EXPECT_FALSE(fs::exists(dir / "out"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace masklm
