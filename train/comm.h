// Collectives between the ranks of a data-parallel run. One process per rank (per GPU);
// ranks come from the launcher (mpirun, srun). Three implementations:
//   single process   world size 1, every collective a no-op (always built)
//   MPI              CPU buffers, MPI_Allreduce & co. (MASKLM_MPI=ON, train/comm_mpi.cpp)
//   NCCL             GPU buffers, on a communication stream ordered after the compute
//                    stream of bind(); several ranks bootstrap it through MPI
//                    (MASKLM_CUDA=ON with MASKLM_NCCL=ON, train/comm_nccl.cpp)
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

struct Ctx;  // kernels/ops.h

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // What the implementation is ("single process", "MPI", "NCCL"), for logs.
  virtual std::string name() const = 0;

  // GPU communicators order their collectives after the work of ctx's stream (the buffers
  // are written there); CPU ones ignore it.
  virtual void bind(Ctx&) {}

  // buf = sum over ranks of buf.
  virtual void all_reduce_sum(const Tensor& buf) = 0;
  // The same sum, started now and complete after wait_all(): gradient buckets are reduced
  // while the backward pass goes on. buf must not be touched before wait_all(). The result
  // has the same bits as all_reduce_sum's (the same reduction, started earlier).
  virtual void start_all_reduce_sum(const Tensor& buf) { all_reduce_sum(buf); }
  virtual void wait_all() {}
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

// The ranks this process was launched with (runtime/launcher.h: mpirun, srun). With a
// world size above 1: MPI for `device` CPU (built with MASKLM_MPI), NCCL bootstrapped
// through MPI for CUDA (MASKLM_MPI and MASKLM_NCCL); else the single-process communicator.
// Created once per process, by the first call (which decides the device); MPI is finalized
// at exit.
std::shared_ptr<Comm> world_comm(Device device = Device::CPU);

// Seconds a rank waits in one collective before it decides another rank died
// (MASKLM_COLLECTIVE_TIMEOUT_S, default 900: longer than any checkpoint write or
// evaluation the other ranks may be waiting for).
double collective_timeout_seconds();

}  // namespace masklm
