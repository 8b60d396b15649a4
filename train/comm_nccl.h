// NCCL collectives on GPU buffers (built with MASKLM_CUDA=ON and MASKLM_MPI=ON). The
// communicator is bootstrapped through MPI: rank 0 creates the NCCL unique id, MPI_Bcast
// hands it to every rank, each calls ncclCommInitRank. Collectives are enqueued on
// `stream` (a side stream lets gradient buckets overlap the backward pass: record an event
// after a bucket's last gradient kernel, make the side stream wait on it, all-reduce
// there). Host scalars (sum, any) go over the MPI bootstrap.
//
// The caller selects the GPU first (cudaSetDevice(local rank), one process per GPU).
// Compiled in CI; runs only on a machine with GPUs.
#pragma once

#include <cuda_runtime.h>

#include <memory>

#include "train/comm.h"

namespace masklm {

std::shared_ptr<Comm> nccl_comm(std::shared_ptr<Comm> mpi_bootstrap, cudaStream_t stream);

}  // namespace masklm
