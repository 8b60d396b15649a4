#include "runtime/launcher.h"

#include <cstdlib>
#include <initializer_list>

namespace masklm {

namespace {

// The first of `vars` that holds a number >= min, else `fallback`.
int first_set(std::initializer_list<const char*> vars, int min, int fallback) {
  for (const char* var : vars)
    if (const char* v = std::getenv(var); v && *v && std::atoi(v) >= min) return std::atoi(v);
  return fallback;
}

}  // namespace

int launcher_world_size() {
  return first_set({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}, 1, 1);
}

int launcher_rank() {
  return first_set({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}, 0, 0);
}

int launcher_local_rank() {
  // Open MPI, MPICH/Hydra and Intel MPI, Slurm.
  return first_set({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}, 0, 0);
}

}  // namespace masklm
