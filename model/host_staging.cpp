#include "model/host_staging.h"

#include <array>
#include <cstring>

#include "kernels/cpu/convert.h"
#include "kernels/dispatch.h"
#include "runtime/device.h"

namespace masklm {

namespace {

bool direct(const Tensor& t) { return t.device == Device::CPU && !is_16bit(t.dtype); }

}  // namespace

HostStaging::HostStaging(const Tensor& largest) {
  if (largest.device != Device::CPU) copied_.resize(largest.nbytes());
  if (is_16bit(largest.dtype))
    widened_.resize(static_cast<size_t>(largest.numel()) * sizeof(float));
}

Tensor HostStaging::staged(std::vector<std::byte>& memory, const Tensor& t, DType dtype) {
  const Tensor host{memory.data(), t.shape, dtype, Device::CPU};
  MASKLM_CHECK(host.nbytes() <= memory.size(), "{} bytes do not fit the {} staged for the host",
               host.nbytes(), memory.size());
  return host;
}

Tensor HostStaging::read(Ctx& ctx, const Tensor& t) {
  if (direct(t)) return t;
  Tensor host = t;
  if (t.device != Device::CPU) {
    synchronize(ctx);
    host = staged(copied_, t, t.dtype);
    copy_tensor(host, t);
  }
  if (!is_16bit(t.dtype)) return host;
  const Tensor values = staged(widened_, t, DType::F32);
  cpu::widen_16bit(values.ptr<float>(), t.dtype, static_cast<const uint16_t*>(host.data),
                   t.numel());
  return values;
}

Tensor HostStaging::zeroed_values_for(const Tensor& dst) {
  const Tensor values = direct(dst) ? dst
                                    : staged(is_16bit(dst.dtype) ? widened_ : copied_, dst,
                                             is_16bit(dst.dtype) ? DType::F32 : dst.dtype);
  std::memset(values.data, 0, values.nbytes());
  return values;
}

void HostStaging::write(Ctx& ctx, const Tensor& dst, const Tensor& values) {
  MASKLM_CHECK(values.device == Device::CPU && values.shape == dst.shape &&
                   values.dtype == (is_16bit(dst.dtype) ? DType::F32 : dst.dtype),
               "HostStaging::write: {} {} host values cannot go into {} {}",
               dtype_name(values.dtype), values.shape.str(), dtype_name(dst.dtype),
               dst.shape.str());
  if (direct(dst)) {
    MASKLM_CHECK(values.data == dst.data,
                 "HostStaging::write: host values for host memory must be zeroed_values_for() it");
    return;
  }
  Tensor host = values;
  if (is_16bit(dst.dtype)) {
    host = dst.device == Device::CPU ? dst : staged(copied_, dst, dst.dtype);
    cpu::round_to_16bit(dst.dtype, static_cast<uint16_t*>(host.data), values.ptr<float>(),
                        dst.numel());
  }
  if (dst.device != Device::CPU) upload(ctx, std::array{Upload{dst, host}});
}

}  // namespace masklm
