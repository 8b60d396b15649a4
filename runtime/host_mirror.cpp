#include "runtime/host_mirror.h"

#include "runtime/device.h"

namespace masklm {

HostMirror::HostMirror(const Arena& arena) : arena_(arena) {
  if (arena_.device() != Device::CPU) host_ = Arena(arena_.used(), Device::CPU);
}

void HostMirror::pull() {
  if (arena_.device() != Device::CPU) device_copy(host_.base(), arena_.base(), arena_.used());
}

void HostMirror::push() const {
  if (arena_.device() != Device::CPU) device_copy(arena_.base(), host_.base(), arena_.used());
}

Tensor HostMirror::operator()(const Tensor& view) const {
  if (arena_.device() == Device::CPU) return view;
  const char* begin = static_cast<const char*>(view.data);
  MASKLM_CHECK(view.device == arena_.device() && begin >= arena_.base() &&
                   begin + view.nbytes() <= arena_.base() + arena_.used(),
               "HostMirror: the view is not inside the mirrored arena");
  Tensor t = view;
  t.data = host_.base() + (begin - arena_.base());
  t.device = Device::CPU;
  return t;
}

}  // namespace masklm
