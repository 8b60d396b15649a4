// Device functions for builds without the CUDA backend.
#include "runtime/device.h"
#include "runtime/error.h"

namespace masklm {

bool cuda_compiled() { return false; }
std::vector<DeviceInfo> cuda_devices() { return {}; }
std::string cuda_runtime_version() { return "none"; }

[[noreturn]] static void no_cuda() {
  MASKLM_FAIL("this masklm was built without CUDA (configure with -DMASKLM_CUDA=ON)");
}
std::shared_ptr<CudaContext> make_cuda_context(int) { no_cuda(); }
void* device_malloc(size_t) { no_cuda(); }
void device_free(void*) {}
void device_memset_zero(void*, size_t) { no_cuda(); }
void device_copy(void*, const void*, size_t, void*) { no_cuda(); }

}  // namespace masklm
