#include "train/comm.h"

#include <cstdlib>
#include <mutex>

#include "runtime/error.h"
#include "runtime/launcher.h"
#ifdef MASKLM_WITH_MPI
#include "train/comm_mpi.h"
#endif
#if defined(MASKLM_WITH_MPI) && defined(MASKLM_WITH_NCCL)
#include "train/comm_nccl.h"
#endif

namespace masklm {

namespace {

class SingleProcessComm : public Comm {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string name() const override { return "single process"; }
  void all_reduce_sum(const Tensor&) override {}
  void reduce_scatter_sum(const Tensor&) override {}
  void all_gather(const Tensor&) override {}
  void broadcast(const Tensor&, int root) override {
    MASKLM_CHECK(root == 0, "broadcast from rank {} in a world of 1", root);
  }
  void barrier() override {}
};

}  // namespace

void Comm::sum_host(std::span<double> values) {
  all_reduce_sum(
      Tensor{values.data(), Shape{static_cast<int64_t>(values.size())}, DType::F64, Device::CPU});
}

std::shared_ptr<Comm> single_process_comm() { return std::make_shared<SingleProcessComm>(); }

double collective_timeout_seconds() {
  const char* v = std::getenv("MASKLM_COLLECTIVE_TIMEOUT_S");
  return v && std::atof(v) > 0 ? std::atof(v) : 900.0;
}

namespace {

std::shared_ptr<Comm> launched_comm([[maybe_unused]] Device device) {
  const int world = launcher_world_size();
  if (world == 1) return single_process_comm();
#ifndef MASKLM_WITH_MPI
  MASKLM_FAIL("launched as {} ranks, but this masklm was built without MPI (configure with "
              "-DMASKLM_MPI=ON)",
              world);
#else
  if (device == Device::CPU) return mpi_world_comm();
#ifdef MASKLM_WITH_NCCL
  return nccl_comm(mpi_world_comm());
#else
  MASKLM_FAIL("launched as {} ranks with --device cuda, but this masklm was built without NCCL "
              "(configure with -DMASKLM_CUDA=ON -DMASKLM_NCCL=ON); use --device cpu",
              world);
#endif
#endif
}

}  // namespace

std::shared_ptr<Comm> world_comm(Device device) {
  static std::once_flag once;
  static std::shared_ptr<Comm> comm;
  std::call_once(once, [device] { comm = launched_comm(device); });
  return comm;
}

}  // namespace masklm
