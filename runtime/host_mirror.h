// HostMirror: an arena's bytes on the host at the same offsets, so every view carved from
// the arena has a twin in the mirror. For an arena on the CPU the mirror is the arena
// itself (nothing is allocated or copied). Initialization and checkpoints read and write
// parameters and optimizer state through a mirror, whatever device they live on, so the
// bytes on disk do not depend on the device.
#pragma once

#include "runtime/arena.h"

namespace masklm {

class HostMirror {
 public:
  explicit HostMirror(const Arena& arena);
  HostMirror(const HostMirror&) = delete;
  HostMirror& operator=(const HostMirror&) = delete;

  // Copies the arena's used bytes into the mirror, or back (each waits for its copy, which
  // runs after the work already queued on a GPU).
  void pull();
  void push() const;
  // The mirror's twin of `view`, a view into the arena.
  Tensor operator()(const Tensor& view) const;
  Tensor flat(DType dtype) const { return (*this)(arena_.flat(dtype)); }

 private:
  const Arena& arena_;
  Arena host_;  // empty when arena_ is on the CPU
};

}  // namespace masklm
