// Launches of the fused attention kernels (kernels/cuda/flash_attention_kernels.cuh, where
// the design is described): argument checks, dtype and head-size dispatch, grids.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/flash_attention_kernels.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers ---------------------------------------------------------------------------

FlashShape make_flash_shape(CudaContext& cc, int64_t B, int64_t N, int64_t C, int64_t NH,
                            float dropout_p) {
  MASKLM_CHECK(NH > 0 && C % NH == 0,
               "fused attention: hidden size {} is not divisible by {} heads", C, NH);
  MASKLM_CHECK(NH <= 65535, "fused attention: at most 65535 heads, got {}", NH);
  MASKLM_CHECK(flash_attention_supports_head_size(C / NH),
               "fused attention: head size {} is not 32, 64 or 128", C / NH);
  MASKLM_CHECK(dropout_p >= 0.0f && dropout_p < 1.0f,
               "fused attention: dropout probability {} not in [0, 1)", dropout_p);
  MASKLM_CHECK(cc.sm_major() >= 8,
               "fused attention needs sm_80 or newer (bf16 tensor cores); this GPU is sm_{}x",
               cc.sm_major());
  const float scale = 1.0f / std::sqrt(static_cast<float>(C / NH));
  return {B, N, C, scale, scale * kLog2e, dropout_p, 1.0f / (1.0f - dropout_p)};
}

// The 16-byte vector loads need every 16-bit matrix 16-byte aligned (C is a multiple of 32,
// so every row and head offset then is too).
void check_aligned(const void* p, const char* name) {
  MASKLM_CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0,
               "fused attention: {} is not 16-byte aligned", name);
}

// Calls fn.template operator()<T16, kHS>() for the dtype and head size.
template <typename Fn> void dispatch_flash(DType dtype, int64_t HS, Fn&& fn) {
  const auto with_head_size = [&]<typename T16>() {
    switch (HS) {
      case 32: fn.template operator()<T16, 32>(); return;
      case 64: fn.template operator()<T16, 64>(); return;
      case 128: fn.template operator()<T16, 128>(); return;
      default: MASKLM_FAIL("fused attention: head size {} is not 32, 64 or 128", HS);
    }
  };
  switch (dtype) {
    case DType::BF16: with_head_size.template operator()<__nv_bfloat16>(); return;
    case DType::F16: with_head_size.template operator()<__half>(); return;
    default: MASKLM_FAIL("fused attention computes in BF16 or F16, got {}", dtype_name(dtype));
  }
}

// One launch of a tiled kernel over (tiles, heads) with `smem` bytes of shared memory.
template <typename Kernel, typename... Args> void launch_tiles(CudaContext& cc, Kernel kernel,
                                                               size_t smem, const FlashShape& s,
                                                               int64_t NH, Args... args) {
  int max_smem = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                    cc.device_index()));
  MASKLM_CHECK(smem <= static_cast<size_t>(max_smem),
               "fused attention needs {} bytes of shared memory, the GPU has {}", smem, max_smem);
  set_max_dynamic_smem(kernel, smem);
  const dim3 grid(static_cast<unsigned>(s.N / kTileRows + s.B), static_cast<unsigned>(NH));
  launch_kernel(kernel, grid, kThreads, smem, cc.stream(), args...);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

// ---- entry points --------------------------------------------------------------------------

bool flash_attention_supports_head_size(int64_t HS) { return HS == 32 || HS == 64 || HS == 128; }

bool flash_attention_applies(CudaContext& cc, int64_t HS) {
  return flash_attention_supports_head_size(HS) && cc.sm_major() >= 8;
}

void flash_attention_forward(CudaContext& cc, DType dtype, void* out, float* lse, const void* qkv,
                             const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C, int64_t NH,
                             float dropout_p, const RngKey& key) {
  const FlashShape s = make_flash_shape(cc, B, N, C, NH, dropout_p);
  check_aligned(out, "out");
  check_aligned(qkv, "qkv");
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  dispatch_flash(dtype, C / NH, [&]<typename T16, int kHS>() {
    launch_tiles(cc, flash_forward_kernel<T16, kHS>, ForwardSmem<T16, kHS>::bytes, s, NH,
                 static_cast<T16*>(out), lse, static_cast<const T16*>(qkv), cu_seqlens, s, key,
                 cc.error_flag());
  });
}

void flash_attention_backward(CudaContext& cc, DType dtype, void* dqkv, const void* dout,
                              const void* out, const void* qkv, const float* lse,
                              const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                              int64_t NH, float dropout_p, const RngKey& key) {
  const FlashShape s = make_flash_shape(cc, B, N, C, NH, dropout_p);
  check_aligned(dqkv, "dqkv");
  check_aligned(dout, "dout");
  check_aligned(out, "out");
  check_aligned(qkv, "qkv");
  validate_cu_seqlens(cc, cu_seqlens, B, N);
  if (N == 0 || B == 0) return;
  ScratchPlan plan;
  const size_t D_at = plan.add<float>(NH * N);
  float* D = ScratchPlan::at<float>(cc.scratch(plan.bytes), D_at);
  dispatch_flash(dtype, C / NH, [&]<typename T16, int kHS>() {
    auto* dq = static_cast<T16*>(dqkv);
    const auto* dO = static_cast<const T16*>(dout);
    const auto* x = static_cast<const T16*>(qkv);
    launch_kernel(flash_backward_dot_kernel<T16>, grid_stride_blocks(N * NH * WARP_SIZE, 256), 256,
                  0, cc.stream(), D, dO, static_cast<const T16*>(out), N, C, NH);
    CUDA_CHECK_LAUNCH();
    const size_t smem = BackwardSmem<T16, kHS>::bytes;
    launch_tiles(cc, flash_backward_dkv_kernel<T16, kHS>, smem, s, NH, dq,
                 static_cast<const float*>(D), dO, x, lse, cu_seqlens, s, key, cc.error_flag());
    launch_tiles(cc, flash_backward_dq_kernel<T16, kHS>, smem, s, NH, dq,
                 static_cast<const float*>(D), dO, x, lse, cu_seqlens, s, key, cc.error_flag());
  });
}

}  // namespace masklm::cuda
