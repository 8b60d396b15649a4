// The linear layer as cuBLASLt GEMMs (kernels/cuda/gemm.cu): the bias rides on the
// forward GEMM's epilogue; the backward GEMMs run with beta = 1 to accumulate; the bias
// gradient is a deterministic two-stage column sum (cuBLASLt's BGRADB epilogue would
// overwrite instead of accumulate). in, weight, bias, out, dout and din hold `dtype` values
// (F32, BF16 or F16); dweight and dbias are fp32, the parameter gradients' dtype.
#include "kernels/cuda/column_sums.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/matmul.cuh"

namespace masklm::cuda {

void matmul_forward(CudaContext& cc, DType dtype, void* out, const void* in, const void* weight, const void* bias,
                    int64_t N, int64_t I, int64_t O) {
  gemm(cc, {dtype, dtype}, false, true, N, O, I, 1.0f, in, I, weight, I, 0.0f, out, O, bias);
}

void matmul_backward(CudaContext& cc, DType dtype, void* din, float* dweight, float* dbias, const void* dout,
                     const void* in, const void* weight, int64_t N, int64_t I, int64_t O) {
  if (din) gemm(cc, {dtype, dtype}, false, false, N, I, O, 1.0f, dout, O, weight, I, 1.0f, din, I);  // (N, O) @ (O, I)
  if (dweight)  // (N, O)^T @ (N, I), into the fp32 gradient
    gemm(cc, {dtype, DType::F32}, true, false, O, I, N, 1.0f, dout, O, in, I, 1.0f, dweight, I);
  if (!dbias || N == 0) return;
  ScratchPlan plan;
  const size_t partials = plan.add<float>(column_sum_chunks(N) * O);
  add_column_sums(cc, dbias, dtype, dout, N, O, O, ScratchPlan::at<float>(cc.scratch(plan.bytes), partials));
}

}  // namespace masklm::cuda
