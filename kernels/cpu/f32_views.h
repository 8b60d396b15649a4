// The CPU's 16-bit emulation. An op given BF16/F16 tensors on the CPU runs its F32 kernel on
// F32 views of them, following kernels/cuda/precision.h's policy without 16-bit arithmetic:
// inputs are widened exactly, every 16-bit output is rounded once (runtime/half.h), and an
// output the op adds into (+=) is widened first, so it is read, added to in fp32 and rounded
// once per element, as the GPU kernels do. Tensors of other dtypes (the F32 companions, ids)
// are used as they are.
//
//   cpu::F32Views f32;
//   gelu_forward(ctx, f32.out(out), f32.in(in));  // rounded into out when f32 goes
//
// The scratch is the calling thread's and grows once, so steady-state calls allocate
// nothing. Outputs are written back when the F32Views is destroyed, unless an exception is
// leaving the scope (a failed op leaves its 16-bit outputs untouched). Inputs are copied
// when viewed, so an output may alias an input.
#pragma once

#include <array>
#include <cstddef>

#include "runtime/tensor.h"

namespace masklm::cpu {

class F32Views {
 public:
  F32Views();
  ~F32Views();
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
    Tensor target;        // 16-bit
    const float* values;  // its F32 view
  };
  static constexpr size_t kMaxOutputs = 4;
  std::array<WriteBack, kMaxOutputs> write_backs_{};
  size_t write_back_count_ = 0;
  size_t first_slot_;        // this object's scratch slots start here
  int uncaught_exceptions_;  // at construction
};

}  // namespace masklm::cpu
