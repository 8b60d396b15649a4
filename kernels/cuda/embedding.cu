// The forward is one block per token row; the backward is the scatter-add of dout by each
// table's ids, as on the CPU, which makes it deterministic without float atomics. Tables
// and out hold F32, BF16 or F16 (the sum in fp32, rounded once); the gradients are fp32.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/embedding_kernels.cuh"
#include "kernels/cuda/rows.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {

// ---- entry points ----------------------------------------------------------------------

void embedding_forward(CudaContext& cc, DType dtype, void* out, const int32_t* tokens, const int32_t* positions,
                       const int32_t* types, const void* wte, const void* wpe, const void* wtt, int64_t N,
                       int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab) {
  if (N == 0 || C == 0) return;
  MASKLM_CHECK(N <= INT32_MAX, "embedding_forward: at most 2^31 - 1 tokens, got {}", N);
  const dim3 grid(static_cast<unsigned>(N), static_cast<unsigned>(CEIL_DIV(C, kThreads)));
  dispatch_storage(dtype, "embedding_forward", [&]<typename T>() {
    launch_kernel(embedding_forward_kernel<T>, grid, kThreads, 0, cc.stream(), static_cast<T*>(out),
                  tokens, positions, types, static_cast<const T*>(wte), static_cast<const T*>(wpe),
                  static_cast<const T*>(wtt), C, V, max_positions, type_vocab, cc.error_flag());
    CUDA_CHECK_LAUNCH();
  });
}

void embedding_backward(CudaContext& cc, DType dtype, float* dwte, float* dwpe, float* dwtt, const void* dout,
                        const int32_t* tokens, const int32_t* positions, const int32_t* types, int64_t N,
                        int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab) {
  if (dwte) scatter_add_rows(cc, DType::F32, dwte, dtype, dout, tokens, N, C, V);
  if (dwpe) scatter_add_rows(cc, DType::F32, dwpe, dtype, dout, positions, N, C, max_positions);
  if (dwtt) scatter_add_rows(cc, DType::F32, dwtt, dtype, dout, types, N, C, type_vocab);
}

}  // namespace masklm::cuda
