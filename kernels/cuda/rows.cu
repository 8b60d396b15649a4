// scatter_add_rows without float atomics: a stable radix sort (CUB) of the indices, with
// the source row numbers as values, groups equal indices into runs that keep the original
// order of p. One block per (run start, column tile) then walks its run and adds the rows
// in that order, so every destination element has one writer and the CPU's summation
// order. Blocks at positions that do not start a run exit at once. A very frequent index
// (e.g. [MASK] for the embedding gradient) makes one long serial run: correct and
// deterministic first; the fast segmented reduction is for the fused-kernel work.
// Rows hold F32, BF16 or F16 values (kernels/cuda/storage.cuh); a scatter into fp32 rows
// from 16-bit ones (the embedding gradients) adds the run in fp32 and stores it unrounded.
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rows.cuh"
#include "kernels/cuda/rows_kernels.cuh"
#include "kernels/cuda/storage.cuh"

namespace masklm::cuda {
namespace {

// ---- launchers -----------------------------------------------------------------------

dim3 row_grid(int64_t P, int64_t C) {
  MASKLM_CHECK(P <= INT32_MAX, "row ops support at most 2^31 - 1 rows, got {}", P);
  return dim3(static_cast<unsigned>(P), static_cast<unsigned>(CEIL_DIV(C, kThreads)));
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------

void gather_rows(CudaContext& cc, DType dtype, void* out, const void* in, const int32_t* index, int64_t P,
                 int64_t C, int64_t N) {
  if (P == 0 || C == 0) return;
  dispatch_storage(dtype, "gather_rows", [&]<typename T>() {
    launch_kernel(gather_rows_kernel<T>, row_grid(P, C), kThreads, 0, cc.stream(),
                  static_cast<T*>(out), static_cast<const T*>(in), index, C, N, cc.error_flag());
    CUDA_CHECK_LAUNCH();
  });
}

void scatter_add_rows(CudaContext& cc, DType dst_dtype, void* dst, DType src_dtype, const void* src,
                      const int32_t* index, int64_t P, int64_t C, int64_t N) {
  MASKLM_CHECK(dst_dtype == src_dtype || dst_dtype == DType::F32,
               "scatter_add_rows: {} rows cannot receive {} rows", dtype_name(dst_dtype), dtype_name(src_dtype));
  if (P == 0 || C == 0) return;
  const dim3 grid = row_grid(P, C);
  const int items = static_cast<int>(P);
  size_t sort_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const int32_t*>(nullptr),
                                             static_cast<int32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                             static_cast<int32_t*>(nullptr), items));
  ScratchPlan plan;
  const size_t keys_at = plan.add<int32_t>(P), rows_in_at = plan.add<int32_t>(P), rows_at = plan.add<int32_t>(P);
  const size_t sort_at = plan.add<char>(static_cast<int64_t>(sort_bytes));
  void* scratch = cc.scratch(plan.bytes);
  int32_t* sorted_index = ScratchPlan::at<int32_t>(scratch, keys_at);
  int32_t* rows_in = ScratchPlan::at<int32_t>(scratch, rows_in_at);
  int32_t* source_rows = ScratchPlan::at<int32_t>(scratch, rows_at);

  launch_kernel(iota_kernel, grid_stride_blocks(P, 256), 256, 0, cc.stream(), rows_in, P);
  CUDA_CHECK_LAUNCH();
  // All 32 key bits: negative or too-large (invalid) indices still form their own runs.
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(ScratchPlan::at<char>(scratch, sort_at), sort_bytes, index,
                                             sorted_index, rows_in, source_rows, items, 0, 32, cc.stream()));
  dispatch_storage(dst_dtype, "scatter_add_rows", [&]<typename DstT>() {
    dispatch_storage(src_dtype, "scatter_add_rows", [&]<typename SrcT>() {
      launch_kernel(scatter_add_runs_kernel<DstT, SrcT>, grid, kThreads, 0, cc.stream(),
                    static_cast<DstT*>(dst), static_cast<const SrcT*>(src), sorted_index,
                    source_rows, P, C, N, cc.error_flag());
      CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace masklm::cuda
