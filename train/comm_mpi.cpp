// MPI collectives on CPU buffers, with two guards against a rank that died:
//  - MPI_ERRORS_RETURN on MPI_COMM_WORLD: a failed call (a peer's socket closed) throws
//    masklm::Error naming the collective instead of aborting without a word;
//  - a watchdog thread: a collective still waiting after MASKLM_COLLECTIVE_TIMEOUT_S
//    seconds (default 900; a peer that died without closing its sockets, or hangs)
//    prints which rank waited in which collective and exits the process with status 3.
// The launcher then ends the job: mpirun kills the remaining ranks when one exits non-zero
// or is killed (its default), srun with --kill-on-bad-exit.
#include "train/comm_mpi.h"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/error.h"

namespace masklm {

namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT;  // opaque bytes, e.g. the NCCL unique id
    default: MASKLM_FAIL("MPI collectives take F32, F64 or I32 buffers, got {}", dtype_name(dtype));
  }
}

void check_mpi(int rc, const char* what, int rank) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  MASKLM_FAIL("rank {}: {} failed: {} (did another rank die?)", rank, what,
              std::string(text, static_cast<size_t>(len)));
}

// Watches the collective in flight, if any; exits the process when it waits too long.
class Watchdog {
 public:
  Watchdog(int rank, double timeout_s) : rank_(rank), timeout_s_(timeout_s) {
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void enter(const char* what) {
    std::lock_guard lock(mutex_);
    what_ = what;
    since_ = std::chrono::steady_clock::now();
  }
  void leave() {
    std::lock_guard lock(mutex_);
    what_ = nullptr;
  }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      wake_.wait_for(lock, std::chrono::seconds(1));
      if (!what_) continue;
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
      if (waited < timeout_s_) continue;
      std::fprintf(stderr,
                   "masklm: rank %d: %s has waited %.0f s for the other ranks "
                   "(MASKLM_COLLECTIVE_TIMEOUT_S = %.0f); another rank has probably died or "
                   "hangs. Exiting.\n",
                   rank_, what_, waited, timeout_s_);
      std::fflush(stderr);
      std::_Exit(3);
    }
  }

  int rank_;
  double timeout_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  const char* what_ = nullptr;
  std::chrono::steady_clock::time_point since_;
  bool done_ = false;
  std::thread thread_;
};

class MpiComm : public Comm {
 public:
  MpiComm() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    watchdog_ = std::make_unique<Watchdog>(rank_, collective_timeout_seconds());
  }
  ~MpiComm() override {
    watchdog_.reset();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string name() const override { return "MPI"; }

  // Iallreduce for both: started now or after the backward, a bucket is reduced by the
  // same algorithm (MPI_Allreduce may pick another, which sums in another order).
  void all_reduce_sum(const Tensor& buf) override {
    start_all_reduce_sum(buf);
    wait_all();
  }
  void start_all_reduce_sum(const Tensor& buf) override {
    // Kept only once started: a failed call leaves no undefined request for wait_all().
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buf.data, count(buf.numel()), mpi_type(buf.dtype), MPI_SUM,
                             MPI_COMM_WORLD, &request),
              "MPI_Iallreduce", rank_);
    pending_.push_back(request);
  }
  void wait_all() override {
    if (pending_.empty()) return;
    run("MPI_Waitall (MPI_Iallreduce)", [&] {
      const int rc =
          MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE);
      // Cleared before run() throws on a failure too: the requests are finished or dead
      // (a broken communicator), and a later wait must not wait for them again.
      pending_.clear();
      return rc;
    });
  }

  void reduce_scatter_sum(const Tensor& buf) override {
    const int64_t block = block_elements(buf);
    // In place, MPI leaves this rank's block at the front of the buffer; move it home.
    run("MPI_Reduce_scatter_block", [&] {
      return MPI_Reduce_scatter_block(MPI_IN_PLACE, buf.data, count(block), mpi_type(buf.dtype),
                                      MPI_SUM, MPI_COMM_WORLD);
    });
    if (rank_ > 0) {
      char* base = static_cast<char*>(buf.data);
      const size_t bytes = static_cast<size_t>(block) * dtype_size(buf.dtype);
      std::memmove(base + static_cast<size_t>(rank_) * bytes, base, bytes);
    }
  }

  void all_gather(const Tensor& buf) override {
    const int64_t block = block_elements(buf);
    run("MPI_Allgather", [&] {
      return MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf.data, count(block),
                           mpi_type(buf.dtype), MPI_COMM_WORLD);
    });
  }

  void broadcast(const Tensor& buf, int root) override {
    run("MPI_Bcast", [&] {
      return MPI_Bcast(buf.data, count(buf.numel()), mpi_type(buf.dtype), root, MPI_COMM_WORLD);
    });
  }

  void barrier() override {
    run("MPI_Barrier", [&] { return MPI_Barrier(MPI_COMM_WORLD); });
  }

 private:
  template <typename F> void run(const char* what, F&& call) {
    watchdog_->enter(what);
    const int rc = call();
    watchdog_->leave();
    check_mpi(rc, what, rank_);
  }
  int count(int64_t n) const {
    MASKLM_CHECK(n >= 0 && n <= INT32_MAX, "MPI collective of {} elements exceeds INT_MAX", n);
    return static_cast<int>(n);
  }
  int64_t block_elements(const Tensor& buf) const {
    MASKLM_CHECK(buf.numel() % size_ == 0, "{} elements do not split into {} equal blocks",
                 buf.numel(), size_);
    return buf.numel() / size_;
  }

  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> pending_;  // started all-reduces
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace

std::shared_ptr<Comm> mpi_world_comm() {
  // One per process: MpiComm finalizes MPI when it goes, which no other user may outlive.
  static const std::shared_ptr<Comm> comm = std::make_shared<MpiComm>();
  return comm;
}

}  // namespace masklm
