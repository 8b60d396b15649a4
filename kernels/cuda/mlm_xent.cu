// Chunk by chunk over the vocabulary, as on the CPU: a cuBLASLt GEMM (bias in its
// epilogue) writes the (P, cv) logits of one chunk into scratch, then
//  - forward: one warp per row folds the chunk into the row's running max, sum of
//    exp(logit - max), first argmax and label logit (online log-sum-exp); the last chunk
//    writes lse, loss and correct. Both kernels read the tile in 16-byte packs when its
//    rows allow (chunk lengths that are multiples of 8 16-bit or 4 fp32 values), else
//    value by value;
//  - backward: the chunk becomes dlogits = loss_scale * (softmax - onehot) in place, then
//    GEMMs add dlogits @ emb_chunk to dh (a 16-bit dh through an fp32 sum in scratch, added
//    and rounded once after the last chunk) and dlogits^T @ h to the chunk's demb rows, and
//    a two-stage column sum adds it to dbias. Every output has one writer per chunk and the
//    chunks run in order: deterministic without atomics.
// Scratch is (P, chunk) logits, never (P, V), and in the 16-bit backward (P, C) fp32 for
// dh's sum.
// h, emb, bias, dh and the logits tile hold the compute dtype T (F32, BF16 or F16;
// kernels/cuda/storage.cuh): the GEMMs sum in fp32 and round the tile once, the kernels
// read it into fp32, so the running max/sum, lse and losses are fp32; demb and dbias are
// fp32 parameter gradients.
#include <cfloat>
#include <type_traits>

#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/mlm_xent.cuh"
#include "kernels/cuda/mlm_xent_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers -----------------------------------------------------------------------

// logits tile (P, cv) = h @ emb[v0 : v0 + cv]^T + bias[v0 : v0 + cv].
template <typename T>
void chunk_logits(CudaContext& cc, T* tile, const T* h, const T* emb, const T* bias, int64_t P, int64_t C, int64_t v0,
                  int64_t cv) {
  const DType dtype = dtype_of<T>();
  gemm(cc, {dtype, dtype}, false, true, P, cv, C, 1.0f, h, C, emb + v0 * C, C, 0.0f, tile, cv,
       bias ? bias + v0 : nullptr);
}

void check_sizes(const char* op, int64_t P, int64_t V, int64_t chunk_size) {
  MASKLM_CHECK(V > 0 && chunk_size > 0, "{}: empty vocabulary or chunk", op);
  MASKLM_CHECK(V <= INT32_MAX && P <= INT32_MAX, "{}: sizes ({}, {}) exceed 32-bit ids", op, P, V);
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void mlm_xent_forward(CudaContext& cc, DType dtype, float* losses, float* lse, int32_t* correct, const void* h,
                      const void* emb, const void* bias, const int32_t* labels, int64_t P, int64_t C, int64_t V,
                      int64_t chunk_size) {
  check_sizes("mlm_xent_forward", P, V, chunk_size);
  if (P == 0) return;
  const int64_t chunk = std::min(chunk_size, V);
  dispatch_storage(dtype, "mlm_xent_forward", [&]<typename T>() {
    ScratchPlan plan;
    const size_t tile_at = plan.add<T>(P * chunk), rows_at = plan.add<OnlineRow>(P);
    void* scratch = cc.scratch(plan.bytes);
    T* tile = ScratchPlan::at<T>(scratch, tile_at);
    OnlineRow* rows = ScratchPlan::at<OnlineRow>(scratch, rows_at);
    const unsigned blocks = static_cast<unsigned>(CEIL_DIV(P, kRowsPerBlock));
    for (int64_t v0 = 0; v0 < V; v0 += chunk) {
      const int64_t cv = std::min(chunk, V - v0);
      chunk_logits(cc, tile, static_cast<const T*>(h), static_cast<const T*>(emb), static_cast<const T*>(bias), P,
                   C, v0, cv);
      with_pack_width<T>(rows_fit_packs<T>(cv, tile), [&]<int W>() {
        launch_kernel(xent_fold_chunk_kernel<T, W>, blocks, kRowsPerBlock * WARP_SIZE, 0,
                      cc.stream(), rows, tile, labels, P, cv, v0, V, v0 + cv == V, losses, lse,
                      correct, cc.error_flag());
      });
      CUDA_CHECK_LAUNCH();
    }
  });
}

void mlm_xent_backward(CudaContext& cc, DType dtype, void* dh, float* demb, float* dbias, const void* h,
                       const void* emb, const void* bias, const int32_t* labels, const float* lse, int64_t P,
                       int64_t C, int64_t V, float loss_scale, int64_t chunk_size) {
  check_sizes("mlm_xent_backward", P, V, chunk_size);
  if (P == 0) return;
  const int64_t chunk = std::min(chunk_size, V);
  dispatch_storage(dtype, "mlm_xent_backward", [&]<typename T>() {
    // A 16-bit dh sums the chunks in fp32 scratch and is rounded once at the end: adding
    // each chunk into it would round it once per chunk (51 times at vocab 50265, chunk 1000).
    constexpr bool kSumInScratch = !std::is_same_v<T, float>;
    ScratchPlan plan;
    const size_t tile_at = plan.add<T>(P * chunk), partials_at = plan.add<float>(column_sum_chunks(P) * chunk);
    const size_t dh_sum_at = plan.add<float>(dh && kSumInScratch ? P * C : 0);
    void* scratch = cc.scratch(plan.bytes);
    T* tile = ScratchPlan::at<T>(scratch, tile_at);
    float* partials = ScratchPlan::at<float>(scratch, partials_at);
    float* dh_sum = ScratchPlan::at<float>(scratch, dh_sum_at);
    if constexpr (kSumInScratch)
      if (dh)
        CUDA_CHECK(
            cudaMemsetAsync(dh_sum, 0, static_cast<size_t>(P * C) * sizeof(float), cc.stream()));
    // Where each chunk's dh product is added: the sum in scratch, or an fp32 dh itself.
    void* dh_target = kSumInScratch ? static_cast<void*>(dh_sum) : dh;
    const DType dh_target_dtype = kSumInScratch ? DType::F32 : dtype;
    const T *hs = static_cast<const T*>(h), *embs = static_cast<const T*>(emb);
    for (int64_t v0 = 0; v0 < V; v0 += chunk) {
      const int64_t cv = std::min(chunk, V - v0);
      chunk_logits(cc, tile, hs, embs, static_cast<const T*>(bias), P, C, v0, cv);
      with_pack_width<T>(rows_fit_packs<T>(cv, tile), [&]<int W>() {
        launch_kernel(xent_dlogits_kernel<T, W>, grid_stride_blocks(P * cv / W, kThreads), kThreads,
                      0, cc.stream(), tile, lse, labels, P, cv, v0, V, loss_scale, cc.error_flag());
      });
      CUDA_CHECK_LAUNCH();
      // dh is an activation gradient in T; demb and dbias are fp32 parameter gradients.
      if (dh)
        gemm(cc, {dtype, dh_target_dtype}, false, false, P, C, cv, 1.0f, tile, cv, embs + v0 * C, C,
             1.0f, dh_target, C);
      if (demb)
        gemm(cc, {dtype, DType::F32}, true, false, cv, C, P, 1.0f, tile, cv, hs, C, 1.0f,
             demb + v0 * C, C);
      if (dbias) add_column_sums(cc, dbias + v0, dtype, tile, P, cv, cv, partials);
    }
    if constexpr (kSumInScratch) {
      if (dh) {
        launch_kernel(add_fp32_sum_kernel<T>, grid_stride_blocks(P * C, kThreads), kThreads, 0,
                      cc.stream(), static_cast<T*>(dh), dh_sum, P * C);
        CUDA_CHECK_LAUNCH();
      }
    }
  });
}

}  // namespace masklm::cuda
