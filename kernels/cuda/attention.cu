// A straightforward, correct attention (the fast fused kernel is separate work): one warp
// per (token, head). Lanes split the head dimension, so a score is a warp-wide dot product
// (warp_sum gives every lane the same bits, keeping the softmax state uniform across the
// warp); each lane keeps its slice of the vectors and accumulators in shared memory
// (HS is a run-time size). The warp finds its sequence by binary search in cu_seqlens.
//
// Forward: one pass over the keys with an online softmax (running max and sum, the
// accumulator rescaled when the max grows); out = sum_j P_ij M_ij v_j with M the dropout
// scales, lse the log-sum-exp of the un-dropped scores.
// Backward, as on the CPU (flash-attention's formulas), in two launches so every output
// has one writer and a fixed summation order (no atomics):
//   per query i: D_i = dO_i . O_i, dS_ij = P_ij (M_ij dP_ij - D_i) with dP_ij = dO_i . v_j,
//                dq_i += scale * sum_j dS_ij k_j;                        (saves D)
//   per key j:   dv_j += sum_i P_ij M_ij dO_i,  dk_j += scale * sum_i dS_ij q_i.
#include <cmath>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_kernels.cuh"
#include "kernels/cuda/common.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers -----------------------------------------------------------------------

AttentionShape make_shape(int64_t B, int64_t N, int64_t C, int64_t NH, float dropout_p) {
  MASKLM_CHECK(NH > 0 && C % NH == 0, "attention: hidden size {} is not divisible by {} heads", C, NH);
  MASKLM_CHECK(NH <= 65535, "attention: at most 65535 heads, got {}", NH);
  MASKLM_CHECK(dropout_p >= 0.0f && dropout_p < 1.0f, "attention: dropout probability {} not in [0, 1)", dropout_p);
  const int64_t HS = C / NH;
  return {B, N, C, HS, 1.0f / std::sqrt(static_cast<float>(HS)), dropout_p, 1.0f / (1.0f - dropout_p)};
}

// One launch over (token blocks, heads) with `vectors` shared slices of HS floats per warp.
template <typename Kernel, typename... Args>
void launch_per_token(CudaContext& cc, Kernel kernel, const AttentionShape& s, int64_t NH, int vectors,
                      Args... args) {
  const size_t smem = per_token_smem_bytes(s.HS, vectors);
  int max_smem = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, cc.device_index()));
  MASKLM_CHECK(smem <= static_cast<size_t>(max_smem), "attention: head size {} needs {} bytes of shared memory, "
               "the GPU has {}", s.HS, smem, max_smem);
  set_max_dynamic_smem(kernel, smem);
  const dim3 grid(static_cast<unsigned>(CEIL_DIV(s.N, kWarpsPerBlock)), static_cast<unsigned>(NH));
  launch_kernel(kernel, grid, kWarpsPerBlock * WARP_SIZE, smem, cc.stream(), args...);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void validate_cu_seqlens(CudaContext& cc, const int32_t* cu_seqlens, int64_t B, int64_t N) {
  launch_kernel(validate_cu_seqlens_kernel, grid_stride_blocks(B + 1, 256), 256, 0, cc.stream(),
                cu_seqlens, B, N, cc.error_flag());
  CUDA_CHECK_LAUNCH();
}

void attention_forward(CudaContext& cc, float* out, float* lse, const float* qkv, const int32_t* cu_seqlens,
                       int64_t B, int64_t N, int64_t C, int64_t NH, float dropout_p, const RngKey& key) {
  const AttentionShape s = make_shape(B, N, C, NH, dropout_p);
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  launch_per_token(cc, attention_forward_kernel, s, NH, 2, out, lse, qkv, cu_seqlens, s, key, cc.error_flag());
}

void attention_backward(CudaContext& cc, float* dqkv, const float* dout, const float* out, const float* qkv,
                        const float* lse, const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C, int64_t NH,
                        float dropout_p, const RngKey& key) {
  const AttentionShape s = make_shape(B, N, C, NH, dropout_p);
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  ScratchPlan plan;
  const size_t D_at = plan.add<float>(NH * N);
  float* D = ScratchPlan::at<float>(cc.scratch(plan.bytes), D_at);
  launch_per_token(cc, attention_dq_kernel, s, NH, 3, dqkv, D, dout, out, qkv, lse, cu_seqlens, s, key,
                   cc.error_flag());
  launch_per_token(cc, attention_dkv_kernel, s, NH, 4, dqkv, static_cast<const float*>(D), dout, qkv, lse,
                   cu_seqlens, s, key, cc.error_flag());
}

}  // namespace masklm::cuda
