// The op API. Model and training code is written once against these functions; each one
// validates its arguments here and dispatches on the context's device to cpu:: or cuda::.
//
// Conventions (hold for every op):
// - Tensors are contiguous row-major views. Shapes in comments use the canonical names
//   N (tokens in the flat unpadded batch), B (sequences), C (hidden), NH (heads),
//   HS (head size, C / NH), F (FFN width), V (vocabulary), P (predicted positions).
// - Floating-point ops compute in F32, or F64 on the CPU (for gradient checks); all
//   floating-point arguments of one call then share one dtype. Index tensors are I32.
// - Every op but adamw_update and sum_squares (fp32 flat buffers) also runs with BF16 or
//   F16 activations and weights (the compute dtype, kernels/cuda/precision.h); what it
//   keeps in full precision beside them (LayerNorm mean/rstd, lse, losses, parameter
//   gradients) is then F32: accum_dtype(compute dtype) in kernels/dispatch.h, which is the
//   compute dtype itself for F32/F64. Both backends take the same dtype combinations. The
//   GPU computes in fp32 and rounds each stored 16-bit value once; the CPU emulates that
//   (kernels/f32_views.h): it widens the 16-bit tensors exactly, runs its F32 kernel
//   and rounds each 16-bit output once (an output that is added into is widened first),
//   so the CPU stays the GPU's reference.
// - Backward ops ACCUMULATE (+=) into every gradient output, parameters and activations
//   alike, so gradient accumulation and residual branches need no extra adds. An empty
//   gradient tensor means "not needed" and is skipped. Gradient outputs never alias an
//   input of the same call (with += that would silently double count).
// - Optional inputs (a bias, token types) are passed as an empty Tensor{}.
// - CPU ops allocate nothing per call except thread-local scratch that grows once.
#pragma once

#include <cstdint>
#include <span>

#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace masklm {

class CudaContext;  // runtime/cuda_context.h

// Which attention kernel attention_forward/backward run (train.attention):
// - AUTO: the fused kernel where it applies (a GPU of sm_80 or newer, BF16/F16 qkv, head
//   size 32, 64 or 128), the reference kernel elsewhere;
// - FUSED: the fused kernel, an error where it does not apply;
// - CUDNN: cuDNN's fused SDPA (kernels/cuda/cudnn_attention.h), BF16/F16 on a GPU, in builds
//   with cuDNN; an error elsewhere. A baseline for the fused kernel; its attention dropout
//   draws cuDNN's own mask, not the one the other kernels share;
// - REFERENCE: the simple kernel everywhere; with 16-bit tensors on a GPU it runs in fp32 on
//   widened copies (kernels/f32_views.h), as the CPU does, to compare with the fused one.
enum class AttentionKernel { AUTO, FUSED, CUDNN, REFERENCE };

struct Ctx {
  Device device = Device::CPU;
  // The GPU's stream, cuBLASLt handle and scratch; required when device is CUDA.
  CudaContext* cuda = nullptr;
  AttentionKernel attention = AttentionKernel::AUTO;
};

// ---- embeddings ------------------------------------------------------------------
// out[n] = wte[tokens[n]] + wpe[positions[n]] (+ wtt[types[n]] when types is given).
// out (N, C); tokens, positions, types (N) I32; wte (V, C); wpe (max_positions, C);
// wtt (type_vocab, C). Ids out of range are an error.
void embedding_forward(Ctx& ctx, const Tensor& out, const Tensor& tokens, const Tensor& positions,
                       const Tensor& types, const Tensor& wte, const Tensor& wpe, const Tensor& wtt);
void embedding_backward(Ctx& ctx, const Tensor& dwte, const Tensor& dwpe, const Tensor& dwtt,
                        const Tensor& dout, const Tensor& tokens, const Tensor& positions,
                        const Tensor& types);

// ---- layernorm -------------------------------------------------------------------
// out = (in - mean) * rstd * weight + bias over the last dimension.
// out, in (N, C); mean, rstd (N) are saved for the backward; weight, bias (C).
void layernorm_forward(Ctx& ctx, const Tensor& out, const Tensor& mean, const Tensor& rstd,
                       const Tensor& in, const Tensor& weight, const Tensor& bias, double eps);
void layernorm_backward(Ctx& ctx, const Tensor& din, const Tensor& dweight, const Tensor& dbias,
                        const Tensor& dout, const Tensor& in, const Tensor& weight,
                        const Tensor& mean, const Tensor& rstd);
// sum = a + b (a residual connection), then out = layernorm(sum) with its mean and rstd:
// exactly residual_forward followed by layernorm_forward, which is what the CPU runs; on a
// GPU one kernel writes the sum and normalizes it in the same pass. The backward is
// layernorm_backward with in = sum, its din added to both branches. All tensors as in the
// two ops; out must not alias sum, a or b.
void residual_layernorm_forward(Ctx& ctx, const Tensor& sum, const Tensor& out, const Tensor& mean,
                                const Tensor& rstd, const Tensor& a, const Tensor& b,
                                const Tensor& weight, const Tensor& bias, double eps);

// ---- matmul (a linear layer, weights in PyTorch's (out, in) layout) ------------------
// out (N, O) = in (N, I) @ weight (O, I)^T + bias (O).
void matmul_forward(Ctx& ctx, const Tensor& out, const Tensor& in, const Tensor& weight,
                    const Tensor& bias);
void matmul_backward(Ctx& ctx, const Tensor& din, const Tensor& dweight, const Tensor& dbias,
                     const Tensor& dout, const Tensor& in, const Tensor& weight);

// ---- elementwise -----------------------------------------------------------------
// GELU, exact erf form: x * 0.5 * (1 + erf(x / sqrt(2))). out may alias in.
void gelu_forward(Ctx& ctx, const Tensor& out, const Tensor& in);
void gelu_backward(Ctx& ctx, const Tensor& din, const Tensor& dout, const Tensor& in);
// out = a + b (the residual connection; its backward is add_inplace on both branches).
void residual_forward(Ctx& ctx, const Tensor& out, const Tensor& a, const Tensor& b);
// dst += src.
void add_inplace(Ctx& ctx, const Tensor& dst, const Tensor& src);
// Inverted dropout: out[i] = keep(i) ? in[i] * s : 0 with s = 1 / (1 - p) computed once in
// the compute dtype (every backend multiplies by the same s), where keep(i) is
// philox_uniform(key, i) >= p. The backward recomputes the mask from the same key, so no
// mask is stored. out may alias in. p = 0 copies.
void dropout_forward(Ctx& ctx, const Tensor& out, const Tensor& in, float p, const RngKey& key);
void dropout_backward(Ctx& ctx, const Tensor& din, const Tensor& dout, float p, const RngKey& key);

// ---- rows ------------------------------------------------------------------------
// out[p] = in[index[p]]: out (P, C), in (N, C), index (P) I32.
void gather_rows(Ctx& ctx, const Tensor& out, const Tensor& in, const Tensor& index);
// dst[index[p]] += src[p]: the backward of gather_rows. Repeated indices accumulate.
void scatter_add_rows(Ctx& ctx, const Tensor& dst, const Tensor& src, const Tensor& index);

// ---- attention on unpadded variable-length sequences ------------------------------
// Bidirectional softmax attention per sequence: sequence b owns tokens
// [cu_seqlens[b], cu_seqlens[b+1]) of the flat batch; tokens never attend across sequences
// and no work is spent on padding.
// qkv (N, 3C): per token [q (C) | k (C) | v (C)], head h at columns h*HS .. h*HS+HS-1.
// out (N, C); lse (NH, N) the log-sum-exp of each query's scaled scores, saved for the
// backward (which recomputes the probabilities instead of storing N x T of them).
// cu_seqlens (B + 1) I32, starting at 0 and ending at N. Scores are scaled by 1/sqrt(HS).
// Attention dropout with probability p drops probability (query i, key j, head h) when
// philox_uniform(key, (h * N + i) * N + j) < p.
// Dtypes: F32 (or F64 on the CPU; lse the same), or BF16/F16 for qkv, out, dout and dqkv
// with lse F32. Ctx::attention picks the kernel: on a GPU the simple fp32 one or, for 16
// bits, the fused tensor-core kernel (kernels/cuda/flash_attention.cu: head sizes 32, 64,
// 128, sm_80+), which adds into the 16-bit dqkv in fp32 and rounds once per element. The
// CPU (and the reference kernel on a GPU) computes 16 bits in fp32 on the widened inputs
// (any head size) and rounds out and dqkv once; the fused kernel also rounds the
// probabilities to 16 bits before P @ V, so the two agree within the 16-bit tolerance, not
// bitwise.
void attention_forward(Ctx& ctx, const Tensor& out, const Tensor& lse, const Tensor& qkv,
                       const Tensor& cu_seqlens, int num_heads, float dropout_p,
                       const RngKey& dropout_key);
void attention_backward(Ctx& ctx, const Tensor& dqkv, const Tensor& dout, const Tensor& out,
                        const Tensor& qkv, const Tensor& lse, const Tensor& cu_seqlens,
                        int num_heads, float dropout_p, const RngKey& dropout_key);

// ---- sparse MLM head: logits against the tied embedding and cross-entropy ------------
// For each predicted row p: logits = h[p] @ emb^T + bias (V values), computed chunk_size
// vocabulary entries at a time with an online log-sum-exp, so no (P, V) buffer exists.
// losses[p] = lse[p] - logit[labels[p]]; correct[p] = 1 when argmax == label (I32; may be
// empty). h (P, C), emb (V, C), bias (V) or empty for none, labels (P) I32 in [0, V),
// losses, lse (P). The backward keeps a (P, chunk_size) scratch, never (P, V).
void mlm_xent_forward(Ctx& ctx, const Tensor& losses, const Tensor& lse, const Tensor& correct,
                      const Tensor& h, const Tensor& emb, const Tensor& bias, const Tensor& labels,
                      int64_t chunk_size);
// Gradients of sum_p loss_scale * losses[p] (loss_scale = 1/P for the mean); recomputes the
// logits chunk by chunk from the saved lse.
void mlm_xent_backward(Ctx& ctx, const Tensor& dh, const Tensor& demb, const Tensor& dbias,
                       const Tensor& h, const Tensor& emb, const Tensor& bias,
                       const Tensor& labels, const Tensor& lse, double loss_scale,
                       int64_t chunk_size);

// ---- optimizer and flat-buffer ops ---------------------------------------------------
struct AdamWStep {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: p -= lr * weight_decay * p
  int64_t step = 1;           // 1-based, for bias correction
  double grad_scale = 1.0;    // gradients are multiplied by this first (clipping, loss scale)
};
// One AdamW update of a flat region: params, grads, m, v all (n) of one float dtype. In
// mixed precision params are the F32 master weights and compute_copy (n) BF16 or F16
// receives them rounded once after the update (in the same kernel on a GPU); the gradients
// stay F32 (parameter gradients accumulate in fp32, kernels/cuda/precision.h), so no
// conversion is needed.
void adamw_update(Ctx& ctx, const Tensor& params, const Tensor& grads, const Tensor& m,
                  const Tensor& v, const AdamWStep& s, const Tensor& compute_copy = {});
// sum of x[i]^2 accumulated in double.
double sum_squares(Ctx& ctx, const Tensor& x);
// x *= s.
void scale_inplace(Ctx& ctx, const Tensor& x, double s);
// x = 0.
void fill_zero(Ctx& ctx, const Tensor& x);
// dst = src converted to dst's dtype: F32 to BF16/F16 rounds to nearest even (as CUDA
// does, runtime/half.h), BF16/F16 to F32 is exact, and a dtype to itself copies (F32, BF16
// or F16). Same shape; dst and src do not overlap. Refreshes the 16-bit compute copy of the
// weights from the F32 masters (after init or a checkpoint load).
void convert(Ctx& ctx, const Tensor& dst, const Tensor& src);

// ---- host to device ----------------------------------------------------------------
// A host tensor and the tensor on the context's device (same shape and dtype) it goes into.
struct Upload {
  Tensor dst, src;
};
// dst = src for every pair. On a GPU the copies are queued on the context's stream, after
// the ops issued before, and upload() returns without waiting for them: the sources are
// staged in page-locked memory first (runtime/cuda_context.h), so the caller may change
// them at once. On the CPU it copies at once. Pairs of empty tensors (Tensor{}) are skipped.
void upload(Ctx& ctx, std::span<const Upload> copies);
// Makes room for an upload() of `bytes` in all now (a model reserving its memory), so that
// no later upload of up to that size allocates its page-locked staging. A no-op on the CPU.
void reserve_upload(Ctx& ctx, size_t bytes);

// Waits until the context's device has finished every op issued so far. On a GPU it also
// throws masklm::Error for bad inputs the kernels found (ids out of range, bad cu_seqlens),
// which they report instead of reading out of bounds. A no-op on the CPU.
void synchronize(Ctx& ctx);

}  // namespace masklm
