#include "train/comm.h"

#include <cstdlib>
#include <mutex>

#include "runtime/error.h"
#ifdef MASKLM_WITH_MPI
#include "train/comm_mpi.h"
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

int launcher_world_size() {
  // Open MPI's mpirun, MPICH/Hydra (PMI), PMIx launchers, Slurm's srun.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"})
    if (const char* v = std::getenv(var); v && std::atoi(v) > 0) return std::atoi(v);
  return 1;
}

std::shared_ptr<Comm> world_comm() {
  static std::once_flag once;
  static std::shared_ptr<Comm> comm;
  std::call_once(once, [] {
    if (launcher_world_size() > 1) {
#ifdef MASKLM_WITH_MPI
      comm = mpi_world_comm();
#else
      MASKLM_FAIL(
          "launched as {} ranks, but this masklm was built without MPI (configure with "
          "-DMASKLM_MPI=ON)",
          launcher_world_size());
#endif
    } else {
      comm = single_process_comm();
    }
  });
  return comm;
}

}  // namespace masklm
