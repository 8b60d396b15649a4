// Collectives between the ranks of a data-parallel run. One process per rank (per GPU);
// ranks come from the launcher (mpirun, srun). Three implementations:
//   single process   world size 1, every collective a no-op (always built)
//   MPI              CPU buffers, MPI_Allreduce & co. (MASKLM_MPI=ON, train/comm_mpi.cpp)
//   NCCL             GPU buffers on a CUDA stream, bootstrapped through MPI
//                    (MASKLM_MPI=ON and MASKLM_CUDA=ON, train/comm_nccl.cpp)
//
// Buffers are flat tensors (F32 or F64) and every collective works in place, so the
// flat gradient and parameter arenas are reduced without staging copies. Sums of two
// values are exact in any order (a + b == b + a), and every implementation returns the
// same bits on every rank, so ranks that start equal stay bitwise equal.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "runtime/tensor.h"

namespace masklm {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // What the implementation is ("single process", "MPI", "NCCL"), for logs.
  virtual std::string name() const = 0;

  // buf = sum over ranks of buf.
  virtual void all_reduce_sum(const Tensor& buf) = 0;
  // buf holds world_size equal blocks; afterwards block rank() (and only it) holds the sum
  // of that block over ranks. buf.numel() must be a multiple of world_size().
  virtual void reduce_scatter_sum(const Tensor& buf) = 0;
  // buf holds world_size equal blocks; afterwards every block holds what its rank had there.
  virtual void all_gather(const Tensor& buf) = 0;
  virtual void broadcast(const Tensor& buf, int root) = 0;
  virtual void barrier() = 0;

  // Sums host values over ranks in place (loss statistics, flags), whatever the device of
  // the buffers above.
  virtual void sum_host(std::span<double> values);
  double sum(double x) {
    sum_host({&x, 1});
    return x;
  }
  bool any(bool x) { return sum(x ? 1.0 : 0.0) > 0; }
};

// World size 1: no process group at all.
std::shared_ptr<Comm> single_process_comm();

// The ranks this process was launched with: MPI when built with MASKLM_MPI and started by
// a launcher that sets a world size above 1 (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE
// via mpirun, SLURM_NTASKS via srun), else the single-process communicator. Created once
// per process; MPI is finalized at exit.
std::shared_ptr<Comm> world_comm();
// World size the launcher announces in the environment (1 when none).
int launcher_world_size();

}  // namespace masklm
