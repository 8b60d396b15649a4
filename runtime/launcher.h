// What the launcher (mpirun, srun) tells a process about its place in a multi-process job,
// read from the environment before MPI is initialized (the GPU is chosen first).
#pragma once

namespace masklm {

// Processes in the job: Open MPI's mpirun, MPICH/Hydra (PMI), PMIx launchers, Slurm's
// srun; 1 when none of them set it.
int launcher_world_size();
// This process's index in the job; 0 when no launcher says.
int launcher_rank();
// This process's index among the job's processes on its machine; 0 when no launcher says.
int launcher_local_rank();

}  // namespace masklm
