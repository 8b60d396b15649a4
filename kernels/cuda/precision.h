// The CUDA backend's dtype policy, written down once, and the 16-bit storage types' DTypes
// (needs the CUDA headers: included by .cu files and GPU tests only).
//
// fp32 mode: every floating-point tensor an op sees is F32 and every kernel computes in
// fp32; GEMMs use CUBLAS_COMPUTE_32F (never TF32). sum_squares accumulates in double, like
// the CPU. This is the debugging mode the mixed-precision modes are checked against, at
// tight tolerance (train.precision fp32, the default).
//
// Mixed precision (train.precision bf16 | fp16; docs/gpu.md):
//  - storage for compute: activations and a compute copy of the weights in bf16 on sm_80
//    and newer, fp16 on sm_70 (no bf16 there);
//  - always fp32: master weights, gradients' flat buffer as seen by the optimizer, AdamW
//    moments, LayerNorm mean/rstd and all statistics, softmax max/sum and lse, losses, and
//    every accumulator inside a kernel (GEMMs: CUBLAS_COMPUTE_32F with bf16/fp16 inputs);
//  - parameter gradients are produced in fp32 straight from 16-bit inputs (matmul's dweight
//    and dbias by a GEMM with an F32 C and fp32 column sums; LayerNorm's dweight/dbias;
//    embedding table gradients; the MLM head's demb/dbias), so the optimizer needs no
//    conversion; ops.h names these companions' dtype accum_dtype(compute dtype);
//  - activation gradients in the compute dtype (as in flash-attention): a kernel that adds
//    into one (ops.h's +=) reads it, adds in fp32 and rounds once per element;
//  - AdamW updates the fp32 master weights and writes the bf16/fp16 compute copy in the
//    same kernel (adamw_update's compute_copy);
//  - fp16 only: dynamic loss scaling (train/loss_scaler.h: scale the loss, check the fp32
//    gradients with found_inf, a non-finite sum_squares; skip the step and halve the scale
//    on overflow, double it after growth_interval good steps).
// Kernels template on the storage type (kernels/cuda/storage.cuh) and load scalars, so any
// row length works; ops dispatch on the tensors' dtype (kernels/dispatch.h, CudaDTypes).
// Ops with BF16/F16 kernels: embeddings, LayerNorm, matmul, GELU, residual, add_inplace,
// dropout, scale_inplace, fill_zero, gather/scatter rows, the MLM head's xent, and the fused
// attention (kernels/cuda/flash_attention.cu; the simple attention kernel is fp32 only and
// runs 16-bit tensors through fp32 staging copies, kernels/f32_views.h).
// Each is tested (tests/gpu/test_ops_*) against the CPU op in F64 on the same 16-bit
// inputs by NMSE with a per-dtype bound (tests/precision_tolerance.h says why).
//
// The CPU backend takes the same 16-bit dtype combinations and emulates this policy
// (kernels/f32_views.h): 16-bit inputs widened exactly, its F32 kernel, each 16-bit
// output rounded once (runtime/half.h rounds as __float2bfloat16_rn / __float2half_rn do),
// 16-bit += outputs widened first, F32 companions untouched. What a GPU kernel rounds in
// between (the fused attention's probabilities, a 16-bit logits tile) the CPU keeps in
// fp32, so the backends agree within the 16-bit bound, bitwise only where both compute the
// same fp32 values (convert, tested so). CI runs mixed precision this way
// (tests/test_ops_16bit.cpp).
//
// The model level (model/mlm_model.h, train/trainer.cpp): MlmModel's parameters and
// gradients are the fp32 masters, a 16-bit compute copy at the same element offsets
// (model/params.h's layout_params_like) is what its forward/backward read, AdamW rewrites
// the copy; the trainer scales the loss for fp16 and refuses bf16 below sm_80.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/dtype.h"

namespace masklm {

template <> constexpr DType dtype_of<__nv_bfloat16>() { return DType::BF16; }
template <> constexpr DType dtype_of<__half>() { return DType::F16; }

}  // namespace masklm
