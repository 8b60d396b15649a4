#include "train/comm_nccl.h"

#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

#include "kernels/device_context.h"
#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"

namespace masklm {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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
  explicit NcclComm(std::shared_ptr<Comm> bootstrap)
      : bootstrap_(std::move(bootstrap)), timeout_s_(collective_timeout_seconds()) {
    CUDA_CHECK(cudaSetDevice(process_gpu_index()));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    ncclUniqueId id{};
    static_assert(sizeof(id) % sizeof(int32_t) == 0);
    if (rank() == 0) settle("ncclGetUniqueId", ncclGetUniqueId(&id));
    bootstrap_->broadcast(Tensor{&id, Shape{static_cast<int64_t>(sizeof(id) / sizeof(int32_t))},
                                 DType::I32, Device::CPU},
                          0);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // calls return at once; settle() and wait_all() poll with a deadline
    settle("ncclCommInitRankConfig",
           ncclCommInitRankConfig(&comm_, world_size(), id, rank(), &config));
  }
  ~NcclComm() override {
    if (comm_) {
      // Errors here cannot be reported any more; the process is ending the communicator.
      // Finalizing waits for every rank, which never comes when this rank leaves on an
      // error while the others wait in a collective: past the collective timeout it aborts.
      const auto start = std::chrono::steady_clock::now();
      ncclResult_t state = ncclCommFinalize(comm_);
      while (state == ncclInProgress && seconds_since(start) < timeout_s_) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) break;
      }
      if (state == ncclSuccess)
        ncclCommDestroy(comm_);
      else
        ncclCommAbort(comm_);
    }
    cudaEventDestroy(done_);
    cudaEventDestroy(inputs_ready_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return bootstrap_->rank(); }
  int world_size() const override { return bootstrap_->world_size(); }
  std::string name() const override { return "NCCL"; }

  void bind(Ctx& ctx) override {
    MASKLM_CHECK(ctx.device == Device::CUDA && ctx.cuda, "NCCL collectives need a CUDA Ctx");
    compute_ = ctx.cuda->stream();
  }

  void all_reduce_sum(const Tensor& buf) override {
    start_all_reduce_sum(buf);
    wait_all();
  }
  void start_all_reduce_sum(const Tensor& buf) override {
    check_device(buf);
    enqueue("ncclAllReduce", [&] {
      return ncclAllReduce(buf.data, buf.data, count(buf), nccl_type(buf.dtype), ncclSum, comm_,
                           stream_);
    });
  }
  // In place as NCCL defines it: this rank's block of the input is the output.
  void reduce_scatter_sum(const Tensor& buf) override {
    const size_t block = block_elements(buf);
    enqueue("ncclReduceScatter", [&] {
      return ncclReduceScatter(buf.data, block_ptr(buf, block), block, nccl_type(buf.dtype),
                               ncclSum, comm_, stream_);
    });
    wait_all();
  }
  void all_gather(const Tensor& buf) override {
    const size_t block = block_elements(buf);
    enqueue("ncclAllGather", [&] {
      return ncclAllGather(block_ptr(buf, block), buf.data, block, nccl_type(buf.dtype), comm_,
                           stream_);
    });
    wait_all();
  }
  void broadcast(const Tensor& buf, int root) override {
    check_device(buf);
    enqueue("ncclBroadcast", [&] {
      return ncclBroadcast(buf.data, buf.data, count(buf), nccl_type(buf.dtype), root, comm_,
                           stream_);
    });
    wait_all();
  }
  void barrier() override {
    wait_all();
    bootstrap_->barrier();
  }
  void sum_host(std::span<double> values) override { bootstrap_->sum_host(values); }

  void wait_all() override {
    if (!pending_) return;
    // Taken before waiting: after a failure (which throws) nothing is left to wait for.
    const char* what = std::exchange(pending_, nullptr);
    CUDA_CHECK(cudaEventRecord(done_, stream_));
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t query = cudaEventQuery(done_);
      if (query == cudaSuccess) {
        async_state(what);  // a collective NCCL gave up on completes too
        break;
      }
      if (query != cudaErrorNotReady) CUDA_CHECK(query);
      check_async(what, start);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

 private:
  // Runs `call`, which enqueues a collective on the communication stream, after everything
  // enqueued so far on the compute stream (which wrote the buffer).
  template <typename Call> void enqueue(const char* what, Call&& call) {
    MASKLM_CHECK(compute_, "NCCL collectives need bind(ctx) with the compute stream first");
    MASKLM_CHECK(comm_, "rank {}: {} on an NCCL communicator aborted after an earlier failure",
                 rank(), what);
    CUDA_CHECK(cudaEventRecord(inputs_ready_, compute_));
    CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_));
    settle(what, call());
    pending_ = what;
  }
  // A non-blocking NCCL call may return ncclInProgress: it is done when the communicator's
  // state leaves that value.
  void settle(const char* what, ncclResult_t rc) {
    const auto start = std::chrono::steady_clock::now();
    while (rc == ncclInProgress) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      rc = check_async(what, start);
    }
    if (rc != ncclSuccess) fail(what, rc);
  }
  // The communicator's state (ncclSuccess or ncclInProgress); fails on an error.
  ncclResult_t async_state(const char* what) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t rc = ncclCommGetAsyncError(comm_, &state);
    if (rc != ncclSuccess) fail(what, rc);
    if (state != ncclSuccess && state != ncclInProgress) fail(what, state);
    return state;
  }
  // async_state(), and exits past the deadline.
  ncclResult_t check_async(const char* what, std::chrono::steady_clock::time_point start) {
    const ncclResult_t state = async_state(what);
    const double waited = seconds_since(start);
    if (waited >= timeout_s_) {
      std::fprintf(stderr,
                   "masklm: rank %d: %s has waited %.0f s for the other ranks "
                   "(MASKLM_COLLECTIVE_TIMEOUT_S = %.0f); another rank has probably died or "
                   "hangs. Aborting NCCL and exiting.\n",
                   rank(), what, waited, timeout_s_);
      std::fflush(stderr);
      ncclCommAbort(comm_);
      std::_Exit(3);
    }
    return state;
  }
  [[noreturn]] void fail(const char* what, ncclResult_t rc) {
    const std::string detail = comm_ ? ncclGetLastError(comm_) : "";
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    pending_ = nullptr;  // dropped with the communicator: a later wait has nothing to wait for
    MASKLM_FAIL("rank {}: {} failed: {}{}{} (did another rank die?)", rank(), what,
                ncclGetErrorString(rc), detail.empty() ? "" : ": ", detail);
  }

  static void check_device(const Tensor& buf) {
    MASKLM_CHECK(buf.device == Device::CUDA, "NCCL collectives take GPU buffers");
  }
  static size_t count(const Tensor& buf) { return static_cast<size_t>(buf.numel()); }
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

  std::shared_ptr<Comm> bootstrap_;
  double timeout_s_;
  cudaStream_t stream_ = nullptr;   // communication
  cudaStream_t compute_ = nullptr;  // bind()'s
  cudaEvent_t inputs_ready_ = nullptr, done_ = nullptr;
  ncclComm_t comm_ = nullptr;
  const char* pending_ = nullptr;  // the last collective started and not yet waited for
};

}  // namespace

std::shared_ptr<Comm> nccl_comm(std::shared_ptr<Comm> bootstrap) {
  return std::make_shared<NcclComm>(std::move(bootstrap));
}

}  // namespace masklm
