// NCCL collectives on GPU buffers (built with MASKLM_CUDA=ON and MASKLM_NCCL=ON), on the GPU
// of process_gpu_index() (kernels/device_context.h), which the caller's DeviceContext uses
// too. The communicator is bootstrapped through `bootstrap`: its rank 0 creates the NCCL
// unique id, bootstrap->broadcast hands it to every rank, each joins with
// ncclCommInitRankConfig. With MPI as bootstrap the ranks are MPI's; with
// single_process_comm() NCCL runs one rank and needs no MPI (the gpu-check test).
//
// Collectives run on a communication stream that first waits for the work enqueued so far
// on bind()'s compute stream, so a gradient bucket's all-reduce overlaps the rest of the
// backward pass. wait_all() waits on the host for everything started, and the blocking
// collectives are a start and a wait_all(). Host scalars (sum, any) go over the bootstrap.
//
// A dead peer makes NCCL wait forever, so the communicator is non-blocking and every wait
// polls ncclCommGetAsyncError: an error NCCL reports (a peer's connection closed) aborts
// the communicator and throws masklm::Error naming the rank and the collective; a wait
// longer than collective_timeout_seconds() aborts it, says so and exits with status 3, as
// the MPI watchdog does (train/comm_mpi.cpp).
#pragma once

#include <memory>

#include "train/comm.h"

namespace masklm {

std::shared_ptr<Comm> nccl_comm(std::shared_ptr<Comm> bootstrap);

}  // namespace masklm
