// The --device option's host-side logic: names, and the errors when CUDA is asked for in a
// build without it or on a machine without a GPU (a GPU machine constructs the context).
#include <gtest/gtest.h>

#include "expect_error.h"
#include "kernels/device_context.h"
#include "runtime/device.h"
#include "runtime/host_mirror.h"

namespace masklm {
namespace {

TEST(DeviceContext, ParsesDeviceNames) {
  EXPECT_EQ(parse_device("cpu"), Device::CPU);
  EXPECT_EQ(parse_device("cuda"), Device::CUDA);
  EXPECT_EQ(device_name(parse_device("cuda")), "cuda");
  EXPECT_EQ(device_name(parse_device("cpu")), "cpu");
  testing::expect_error([] { parse_device("gpu"); }, {"unknown device 'gpu'", "cpu or cuda"});
}

TEST(DeviceContext, CpuNeedsNothing) {
  DeviceContext cpu;
  EXPECT_EQ(cpu.device(), Device::CPU);
  EXPECT_EQ(cpu.ctx().device, Device::CPU);
  EXPECT_EQ(cpu.ctx().cuda, nullptr);
  require_device(Device::CPU);
}

TEST(DeviceContext, CudaIsRefusedWithTheReasonOrCreated) {
  if (!cuda_compiled()) {
    testing::expect_error([] { DeviceContext cuda(Device::CUDA); },
                          {"built without CUDA", "-DMASKLM_CUDA=ON", "--device cpu"});
  } else if (cuda_devices().empty()) {
    testing::expect_error([] { DeviceContext cuda(Device::CUDA); },
                          {"no CUDA GPU is visible", "masklm devices", "--device cpu"});
  } else {
    DeviceContext cuda(Device::CUDA);
    EXPECT_EQ(cuda.ctx().device, Device::CUDA);
    EXPECT_NE(cuda.ctx().cuda, nullptr);
    EXPECT_NE(cuda.description().find(cuda_devices().front().name), std::string::npos);
  }
}

TEST(HostMirror, OfAHostArenaIsTheArenaItself) {
  Arena arena(1024, Device::CPU);
  const Tensor t = arena.alloc({4, 8}, DType::F32);
  HostMirror mirror(arena);
  mirror.pull();
  EXPECT_EQ(mirror(t).data, t.data);
  EXPECT_EQ(mirror.flat(DType::F32).data, arena.base());
  EXPECT_EQ(mirror.flat(DType::F32).numel(), arena.flat(DType::F32).numel());
}

}  // namespace
}  // namespace masklm
