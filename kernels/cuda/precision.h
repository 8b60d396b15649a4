// The CUDA backend's dtype policy, written down once, and the 16-bit storage types' DTypes
// (needs the CUDA headers: included by .cu files and GPU tests only).
//
// Today (fp32 mode): every floating-point tensor an op sees is F32 and every kernel
// computes in fp32; GEMMs use CUBLAS_COMPUTE_32F (never TF32). sum_squares accumulates in
// double, like the CPU. run_on_cuda (kernels/dispatch.h) rejects any other dtype. This is
// the debugging mode the mixed-precision modes are checked against, at tight tolerance.
//
// Mixed precision (issue 5, second half; only the fused attention exists so far,
// kernels/cuda/flash_attention.cu: BF16/F16 qkv, out and dqkv, F32 lse):
//  - storage for compute: activations and a compute copy of the weights in bf16 on sm_80
//    and newer, fp16 on sm_70 (no bf16 there);
//  - always fp32: master weights, gradients' flat buffer as seen by the optimizer, AdamW
//    moments, LayerNorm mean/rstd and all statistics, softmax max/sum and lse, losses, and
//    every accumulator inside a kernel (GEMMs: CUBLAS_COMPUTE_32F with bf16/fp16 inputs);
//  - activation gradients in the compute dtype (as in flash-attention): a kernel that adds
//    into one (ops.h's +=) reads it, adds in fp32 and rounds once per element;
//  - AdamW updates the fp32 master weights and writes the bf16/fp16 compute copy in the
//    same kernel;
//  - fp16 only: dynamic loss scaling (scale the loss, check gradients for inf/nan with
//    sum_squares, skip the step and halve the scale on overflow, double it after a run of
//    good steps).
// The ops will keep their F32 signatures for statistics and take the compute dtype for
// activations; the tests compare each mode with the fp32 mode (and the CPU) by NMSE with a
// per-dtype bound.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/dtype.h"

namespace masklm {

template <> constexpr DType dtype_of<__nv_bfloat16>() { return DType::BF16; }
template <> constexpr DType dtype_of<__half>() { return DType::F16; }

}  // namespace masklm
