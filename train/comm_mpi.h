// The MPI communicator over MPI_COMM_WORLD (built with MASKLM_MPI=ON). Internal to
// train/comm.cpp's world_comm() and to the NCCL bootstrap.
#pragma once

#include <memory>

#include "train/comm.h"

namespace masklm {

// Initializes MPI (once per process; finalized at exit).
std::shared_ptr<Comm> mpi_world_comm();

}  // namespace masklm
