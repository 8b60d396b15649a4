// One warp per row for everything per row (statistics, normalization, din), reading the
// row from global memory once per pass (rows of a few thousand floats stay in L1/L2).
// dweight and dbias sum over rows: a deterministic two-stage column reduction
// (kernels/cuda/column_sums.cuh), no atomics.
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/layernorm.cuh"

namespace masklm::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per block, one row each
constexpr int kColumnThreads = 256;

// ---- kernels -------------------------------------------------------------------------

__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* in,
                                         const float* weight, const float* bias, int64_t N, int64_t C,
                                         float eps) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (n >= N) return;  // whole warps leave together; no block-wide barrier follows
  const float* x = in + n * C;
  float sum = 0.0f;
  for (int64_t c = lane; c < C; c += WARP_SIZE) sum += x[c];
  const float mu = warp_sum(sum) / static_cast<float>(C);
  float squares = 0.0f;
  for (int64_t c = lane; c < C; c += WARP_SIZE) squares += (x[c] - mu) * (x[c] - mu);
  // 1 / sqrtf is correctly rounded (rsqrtf is not), keeping the GPU within an ulp of the CPU.
  const float rs = 1.0f / sqrtf(warp_sum(squares) / static_cast<float>(C) + eps);
  float* o = out + n * C;
  for (int64_t c = lane; c < C; c += WARP_SIZE) o[c] = (x[c] - mu) * rs * weight[c] + bias[c];
  if (lane == 0) {
    mean[n] = mu;
    rstd[n] = rs;
  }
}

// With g = dout * weight and xhat the normalized input:
// din += rstd * (g - mean(g) - xhat * mean(g * xhat)).
__global__ void layernorm_din_kernel(float* din, const float* dout, const float* in, const float* weight,
                                     const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int lane = threadIdx.x % WARP_SIZE;
  const int64_t n = blockIdx.x * int64_t{kRowsPerBlock} + threadIdx.x / WARP_SIZE;
  if (n >= N) return;
  const float* x = in + n * C;
  const float* dy = dout + n * C;
  const float m = mean[n], r = rstd[n];
  float g_sum = 0.0f, g_xhat_sum = 0.0f;
  for (int64_t c = lane; c < C; c += WARP_SIZE) {
    const float g = dy[c] * weight[c];
    g_sum += g;
    g_xhat_sum += g * ((x[c] - m) * r);
  }
  const float g_mean = warp_sum(g_sum) / static_cast<float>(C);
  const float g_xhat_mean = warp_sum(g_xhat_sum) / static_cast<float>(C);
  float* dx = din + n * C;
  for (int64_t c = lane; c < C; c += WARP_SIZE)
    dx[c] += r * (dy[c] * weight[c] - g_mean - (x[c] - m) * r * g_xhat_mean);
}

// Stage 1 of dweight/dbias, grid (column blocks, chunks): the chunk's rows summed per column
// into dw_partials and db_partials (chunks, C).
__global__ void layernorm_param_partials_kernel(float* dw_partials, float* db_partials, const float* dout,
                                                const float* in, const float* mean, const float* rstd, int64_t N,
                                                int64_t C) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= C) return;
  const int64_t r0 = blockIdx.y * kColumnSumChunkRows;
  const int64_t r1 = min(N, r0 + kColumnSumChunkRows);
  float dw = 0.0f, db = 0.0f;
  for (int64_t n = r0; n < r1; ++n) {
    const float dy = dout[n * C + c];
    dw += dy * ((in[n * C + c] - mean[n]) * rstd[n]);
    db += dy;
  }
  dw_partials[blockIdx.y * C + c] = dw;
  db_partials[blockIdx.y * C + c] = db;
}

// ---- launchers -----------------------------------------------------------------------

unsigned row_blocks(int64_t N) { return static_cast<unsigned>(CEIL_DIV(N, kRowsPerBlock)); }

void launch_param_grads(CudaContext& cc, float* dweight, float* dbias, const float* dout, const float* in,
                        const float* mean, const float* rstd, int64_t N, int64_t C) {
  const int64_t chunks = column_sum_chunks(N);
  MASKLM_CHECK(chunks <= 65535, "layernorm_backward: {} rows exceed the grid's {} chunks", N, 65535);
  ScratchPlan plan;
  const size_t dw_offset = plan.add<float>(chunks * C), db_offset = plan.add<float>(chunks * C);
  void* scratch = cc.scratch(plan.bytes);
  float* dw_partials = ScratchPlan::at<float>(scratch, dw_offset);
  float* db_partials = ScratchPlan::at<float>(scratch, db_offset);
  const dim3 grid(static_cast<unsigned>(CEIL_DIV(C, kColumnThreads)), static_cast<unsigned>(chunks));
  layernorm_param_partials_kernel<<<grid, kColumnThreads, 0, cc.stream()>>>(dw_partials, db_partials, dout, in,
                                                                             mean, rstd, N, C);
  CUDA_CHECK_LAUNCH();
  if (dweight) add_partial_sums(cc, dweight, dw_partials, chunks, C);
  if (dbias) add_partial_sums(cc, dbias, db_partials, chunks, C);
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void layernorm_forward(CudaContext& cc, float* out, float* mean, float* rstd, const float* in,
                       const float* weight, const float* bias, int64_t N, int64_t C, double eps) {
  MASKLM_CHECK(C > 0, "layernorm_forward: cannot normalize rows of 0 values");
  if (N == 0) return;
  layernorm_forward_kernel<<<row_blocks(N), kRowsPerBlock * WARP_SIZE, 0, cc.stream()>>>(
      out, mean, rstd, in, weight, bias, N, C, static_cast<float>(eps));
  CUDA_CHECK_LAUNCH();
}

void layernorm_backward(CudaContext& cc, float* din, float* dweight, float* dbias, const float* dout,
                        const float* in, const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C) {
  if (N == 0 || C == 0) return;
  if (din) {
    layernorm_din_kernel<<<row_blocks(N), kRowsPerBlock * WARP_SIZE, 0, cc.stream()>>>(din, dout, in, weight,
                                                                                      mean, rstd, N, C);
    CUDA_CHECK_LAUNCH();
  }
  if (dweight || dbias) launch_param_grads(cc, dweight, dbias, dout, in, mean, rstd, N, C);
}

}  // namespace masklm::cuda
