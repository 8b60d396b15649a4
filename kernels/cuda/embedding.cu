// The forward is one block per token row; the backward is the scatter-add of dout by each
// table's ids, as on the CPU, which makes it deterministic without float atomics.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/rows.cuh"

namespace masklm::cuda {
namespace {

constexpr int kThreads = 128;

// ---- kernels -------------------------------------------------------------------------

// grid (N, column tiles). Adds in the CPU's order ((token + position) + type): bitwise equal.
__global__ void embedding_forward_kernel(float* out, const int32_t* tokens, const int32_t* positions,
                                         const int32_t* types, const float* wte, const float* wpe,
                                         const float* wtt, int64_t C, int64_t V, int64_t max_positions,
                                         int64_t type_vocab, int* error_flag) {
  const int64_t n = blockIdx.x, c = blockIdx.y * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const int32_t tok = tokens[n], pos = positions[n], typ = types ? types[n] : 0;
  if (tok < 0 || tok >= V || pos < 0 || pos >= max_positions || (types && (typ < 0 || typ >= type_vocab))) {
    raise_device_error(error_flag, DeviceError::INDEX_OUT_OF_RANGE);
    out[n * C + c] = 0.0f;
    return;
  }
  float sum = wte[tok * C + c] + wpe[pos * C + c];
  if (types) sum += wtt[typ * C + c];
  out[n * C + c] = sum;
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void embedding_forward(CudaContext& cc, float* out, const int32_t* tokens, const int32_t* positions,
                       const int32_t* types, const float* wte, const float* wpe, const float* wtt, int64_t N,
                       int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab) {
  if (N == 0 || C == 0) return;
  MASKLM_CHECK(N <= INT32_MAX, "embedding_forward: at most 2^31 - 1 tokens, got {}", N);
  const dim3 grid(static_cast<unsigned>(N), static_cast<unsigned>(CEIL_DIV(C, kThreads)));
  embedding_forward_kernel<<<grid, kThreads, 0, cc.stream()>>>(out, tokens, positions, types, wte, wpe, wtt, C, V,
                                                               max_positions, type_vocab, cc.error_flag());
  CUDA_CHECK_LAUNCH();
}

void embedding_backward(CudaContext& cc, float* dwte, float* dwpe, float* dwtt, const float* dout,
                        const int32_t* tokens, const int32_t* positions, const int32_t* types, int64_t N,
                        int64_t C, int64_t V, int64_t max_positions, int64_t type_vocab) {
  if (dwte) scatter_add_rows(cc, dwte, dout, tokens, N, C, V);
  if (dwpe) scatter_add_rows(cc, dwpe, dout, positions, N, C, max_positions);
  if (dwtt) scatter_add_rows(cc, dwtt, dout, types, N, C, type_vocab);
}

}  // namespace masklm::cuda
