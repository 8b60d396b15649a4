#include "train/comm_nccl.h"

#include <nccl.h>

#include "runtime/cuda_check.h"

#define NCCL_CHECK(expr) MASKLM_CHECK_STATUS(expr, ncclSuccess, ncclGetErrorString)

namespace masklm {

namespace {

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    default: MASKLM_FAIL("NCCL collectives take floating-point buffers, got {}", dtype_name(dtype));
  }
}

class NcclComm : public Comm {
 public:
  NcclComm(std::shared_ptr<Comm> mpi, cudaStream_t stream) : mpi_(std::move(mpi)), stream_(stream) {
    ncclUniqueId id{};
    static_assert(sizeof(id) % sizeof(int32_t) == 0);
    if (mpi_->rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    mpi_->broadcast(Tensor{&id, Shape{static_cast<int64_t>(sizeof(id) / sizeof(int32_t))},
                           DType::I32, Device::CPU},
                    0);
    NCCL_CHECK(ncclCommInitRank(&comm_, mpi_->world_size(), id, mpi_->rank()));
  }
  ~NcclComm() override { ncclCommDestroy(comm_); }

  int rank() const override { return mpi_->rank(); }
  int world_size() const override { return mpi_->world_size(); }
  std::string name() const override { return "NCCL"; }

  void all_reduce_sum(const Tensor& buf) override {
    check_device(buf);
    NCCL_CHECK(ncclAllReduce(buf.data, buf.data, static_cast<size_t>(buf.numel()),
                             nccl_type(buf.dtype), ncclSum, comm_, stream_));
  }
  // In place as NCCL defines it: this rank's block of the input is the output.
  void reduce_scatter_sum(const Tensor& buf) override {
    const size_t block = block_elements(buf);
    NCCL_CHECK(ncclReduceScatter(buf.data, block_ptr(buf, block), block, nccl_type(buf.dtype),
                                 ncclSum, comm_, stream_));
  }
  void all_gather(const Tensor& buf) override {
    const size_t block = block_elements(buf);
    NCCL_CHECK(ncclAllGather(block_ptr(buf, block), buf.data, block, nccl_type(buf.dtype), comm_,
                             stream_));
  }
  void broadcast(const Tensor& buf, int root) override {
    check_device(buf);
    NCCL_CHECK(ncclBroadcast(buf.data, buf.data, static_cast<size_t>(buf.numel()),
                             nccl_type(buf.dtype), root, comm_, stream_));
  }
  void barrier() override {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    mpi_->barrier();
  }
  void sum_host(std::span<double> values) override { mpi_->sum_host(values); }

 private:
  static void check_device(const Tensor& buf) {
    MASKLM_CHECK(buf.device == Device::CUDA, "NCCL collectives take GPU buffers");
  }
  size_t block_elements(const Tensor& buf) const {
    check_device(buf);
    MASKLM_CHECK(buf.numel() % world_size() == 0, "{} elements do not split into {} equal blocks",
                 buf.numel(), world_size());
    return static_cast<size_t>(buf.numel() / world_size());
  }
  void* block_ptr(const Tensor& buf, size_t block) const {
    return static_cast<char*>(buf.data) +
           static_cast<size_t>(rank()) * block * dtype_size(buf.dtype);
  }

  std::shared_ptr<Comm> mpi_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::shared_ptr<Comm> nccl_comm(std::shared_ptr<Comm> mpi_bootstrap, cudaStream_t stream) {
  return std::make_shared<NcclComm>(std::move(mpi_bootstrap), stream);
}

}  // namespace masklm
