// F32 views of 16-bit tensors, for running an op's F32 kernel on BF16/F16 data while
// keeping kernels/cuda/precision.h's policy without 16-bit arithmetic: inputs are widened
// exactly, every 16-bit output is rounded once (the convert op, runtime/half.h's rounding),
// and an output the op adds into (+=) is widened first, so it is read, added to in fp32 and
// rounded once per element, as the GPU kernels do. Tensors of other dtypes (the F32
// companions, ids) are used as they are.
//
//   F32Views f32(ctx);
//   gelu_forward(ctx, f32.out(out), f32.in(in));  // rounded into out when f32 goes
//
// The CPU runs every 16-bit op this way (its 16-bit emulation); a GPU runs the reference
// attention kernel this way in 16 bits (kernels/ops.h's AttentionKernel::REFERENCE).
// Scratch is one buffer per 16-bit tensor of a call (the calling thread's on the CPU, the
// CudaContext's staging slots on a GPU), grown once and reused, so steady-state calls
// allocate nothing. Outputs are written back when the F32Views is destroyed, unless an
// exception is leaving the scope (a failed op leaves its 16-bit outputs untouched; a failed
// write-back, a GPU launch error, throws and leaves the later outputs unwritten). Inputs
// are copied when viewed, so an output may alias an input.
#pragma once

#include <array>
#include <cstddef>

#include "kernels/ops.h"

namespace masklm {

class F32Views {
 public:
  explicit F32Views(Ctx& ctx);
  // Writing an output back runs the convert op, which on a GPU may report a launch error.
  ~F32Views() noexcept(false);
  F32Views(const F32Views&) = delete;
  F32Views& operator=(const F32Views&) = delete;

  // An input: t widened.
  Tensor in(const Tensor& t);
  // An output the op overwrites: scratch, rounded into t at the end.
  Tensor out(const Tensor& t);
  // An output the op adds into: t widened, rounded back into t at the end.
  Tensor inout(const Tensor& t);

 private:
  Tensor scratch_like(const Tensor& t);
  Tensor write_back_later(const Tensor& target, const Tensor& values);

  struct WriteBack {
    Tensor target;  // 16-bit
    Tensor values;  // its F32 view
  };
  static constexpr size_t kMaxOutputs = 4;
  Ctx& ctx_;
  std::array<WriteBack, kMaxOutputs> write_backs_{};
  size_t write_back_count_ = 0;
  size_t first_slot_;        // this object's scratch slots start here
  int uncaught_exceptions_;  // at construction
};

}  // namespace masklm
