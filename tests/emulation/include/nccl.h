// The emulation's NCCL (cuda_runtime.h says why): the calls train/comm_nccl.cpp makes, as
// MPI collectives between the processes of an `mpiexec` run, one emulated GPU each (device
// memory is host memory here). A communicator of n ranks is MPI_COMM_WORLD's, which must
// have exactly those ranks (the bootstrap in train/comm.cpp guarantees it); one of a single
// rank needs no MPI. Collectives are work of their stream (emulator_streams.h); an MPI
// call that fails (masklm's MPI returns errors, train/comm_mpi.cpp) becomes the
// communicator's asynchronous error, which ncclCommGetAsyncError reports. Sums are NCCL's:
// in the element type, so 16-bit values are added in float and rounded once per addition.
// Collectives are non-blocking MPI operations, so a host that waits for one with a deadline
// (train/comm_nccl.cpp) gives up on a peer that hangs, as with NCCL. Limits: a collective
// starts only when its stream's turn comes on the host (at once on NCCL's stream under the
// in_order schedule, unless earlier work is still in flight; else when the host polls or
// waits for the stream), where a GPU would start it by itself. So ranks that wait for a
// collective and make a host MPI call in opposite orders deadlock here, though not on
// GPUs; masklm's ranks make the same calls in the same order. With more than two ranks
// MPI's sums need not give every rank the same bits, as NCCL's ring does; the tests run
// two.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

enum ncclResult_t {
  ncclSuccess = 0,
  ncclSystemError = 2,
  ncclInvalidArgument = 4,
  ncclInProgress = 7,
};
enum ncclDataType_t { ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9 };
enum ncclRedOp_t { ncclSum = 0 };

constexpr int NCCL_UNIQUE_ID_BYTES = 128;
struct ncclUniqueId {
  char internal[NCCL_UNIQUE_ID_BYTES];
};
struct ncclConfig_t {
  int blocking;
};
#define NCCL_CONFIG_INITIALIZER \
  { 1 }

namespace emulator {
struct StagedCollective;
}
struct ncclComm {
  int rank = 0, ranks = 1;
  MPI_Comm mpi = MPI_COMM_NULL;      // null for one rank
  ncclResult_t error = ncclSuccess;  // the first failure of a collective run on its stream
  bool aborted = false;              // collectives still queued or in flight then do nothing
  std::vector<std::shared_ptr<emulator::StagedCollective>> abandoned;  // after the abort
};
using ncclComm_t = ncclComm*;

namespace emulator {

inline size_t nccl_type_bytes(ncclDataType_t type) {
  return type == ncclFloat64 ? 8 : type == ncclFloat32 ? 4 : 2;
}

// inout[i] = in[i] + inout[i] in T, as NCCL sums T: an MPI user operation.
template <typename T> void mpi_sum(void* in, void* inout, int* n, MPI_Datatype*) {
  const auto* a = static_cast<const T*>(in);
  auto* b = static_cast<T*>(inout);
  for (int i = 0; i < *n; ++i) b[i] = T(float(a[i]) + float(b[i]));
}

// The MPI type and sum of an NCCL type: MPI's own for fp32 and fp64, user operations over
// 2-byte elements for the 16-bit types.
struct MpiSum {
  MPI_Datatype type;
  MPI_Op op;
};
template <typename T16> MpiSum sum_16bit() {
  static const MpiSum sum = [] {
    MpiSum s{MPI_UINT16_T, MPI_OP_NULL};
    MPI_Op_create(&mpi_sum<T16>, /*commute=*/1, &s.op);
    return s;
  }();
  return sum;
}
inline MpiSum mpi_sum_of(ncclDataType_t type) {
  switch (type) {
    case ncclFloat32: return {MPI_FLOAT, MPI_SUM};
    case ncclFloat64: return {MPI_DOUBLE, MPI_SUM};
    case ncclBfloat16: return sum_16bit<__nv_bfloat16>();
    case ncclFloat16: return sum_16bit<__half>();
  }
  return {MPI_DATATYPE_NULL, MPI_OP_NULL};
}

// MPI counts are ints: larger buffers are refused (the tests' are far smaller).
inline bool fits_mpi(size_t bytes) { return bytes <= static_cast<size_t>(INT_MAX); }

}  // namespace emulator

inline const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error (emulated)";
    case ncclSystemError: return "an MPI call failed (emulated)";
    case ncclInvalidArgument: return "invalid argument (emulated)";
    case ncclInProgress: return "in progress (emulated)";
  }
  return "unknown result (emulated)";
}
inline const char* ncclGetLastError(ncclComm_t) { return ""; }

inline ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id->internal, 0x5A, sizeof id->internal);
  return ncclSuccess;
}
inline ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int ranks, ncclUniqueId, int rank,
                                           ncclConfig_t*) {
  if (ranks < 1 || rank < 0 || rank >= ranks) return ncclInvalidArgument;
  auto* c = new ncclComm;
  c->rank = rank;
  c->ranks = ranks;
  if (ranks > 1) {
    int initialized = 0, world_rank = -1, world_size = 0;
    MPI_Initialized(&initialized);
    if (initialized) {
      MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
      MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    }
    if (world_rank != rank || world_size != ranks) {
      delete c;
      return ncclInvalidArgument;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi);
  }
  *comm = c;
  return ncclSuccess;
}
inline ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* state) {
  *state = comm->error;
  return ncclSuccess;
}
// Finalize and Destroy complete the collectives still queued, as NCCL's do.
inline ncclResult_t ncclCommFinalize(ncclComm_t) {
  emulator::streams.synchronize_device();
  return ncclSuccess;
}
inline ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  ncclCommFinalize(comm);
  if (comm->mpi != MPI_COMM_NULL) MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}
// Drops the queued and in-flight collectives instead (a peer may be gone); the handle, its
// MPI communicator and the host copies of collectives in flight stay allocated, for them to
// see that and for MPI, which cannot cancel a collective.
inline ncclResult_t ncclCommAbort(ncclComm_t comm) {
  comm->aborted = true;  // its MPI communicator is not freed either: MPI may still use it
  return ncclSuccess;
}

// The collectives check their arguments now and run as work of their stream (like NCCL's
// kernels): their turn copies the device buffer into host memory and starts a non-blocking
// MPI collective on it; the stream's later work waits until MPI completes it and its result
// is copied back (emulator_streams.h). MPI only ever sees the host copies: device memory is
// closed to host code outside device calls (emulator_device_memory.h). An MPI failure
// becomes the communicator's asynchronous error.
namespace emulator {
// Tests set it: the next this many collectives to start fail as an MPI call that returns an
// error would (on a GPU: a peer's connection closing).
inline int nccl_collectives_to_fail = 0;

struct StagedCollective {
  std::vector<unsigned char> in, out;
  MPI_Request request = MPI_REQUEST_NULL;  // stays null for a single rank: nothing to wait for
};
// start(staged) fills staged.in from device memory, sizes staged.out and starts the MPI
// operation, returning MPI's code; finish(staged) copies staged.out into device memory.
template <typename Start, typename Finish>
void enqueue_collective(ncclComm_t comm, cudaStream_t stream, Start start, Finish finish) {
  streams.enqueue_async(stream, [=]() -> std::function<bool()> {
    if (comm->aborted) return nullptr;
    auto staged = std::make_shared<StagedCollective>();
    int rc;
    if (nccl_collectives_to_fail > 0) {
      --nccl_collectives_to_fail;
      rc = MPI_ERR_OTHER;
    } else {
      const auto access = device_access();
      rc = start(*staged);
    }
    auto failed = [comm] {
      if (comm->error == ncclSuccess) comm->error = ncclSystemError;
    };
    if (rc != MPI_SUCCESS) {
      failed();
      return nullptr;
    }
    return [comm, staged, finish, failed] {
      // An aborted communicator drops its collective; MPI may still write the host copies,
      // so they stay allocated, like the communicator (ncclCommAbort).
      if (comm->aborted) {
        comm->abandoned.push_back(staged);
        return true;
      }
      if (staged->request != MPI_REQUEST_NULL) {
        int complete = 0;
        if (MPI_Test(&staged->request, &complete, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
          failed();
          return true;
        }
        if (!complete) return false;
      }
      const auto access = device_access();
      finish(*staged);
      return true;
    };
  });
}
inline void copy_in(std::vector<unsigned char>& to, const void* from, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(from);
  to.assign(p, p + bytes);
}
}  // namespace emulator

inline ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  ncclRedOp_t, ncclComm_t comm, cudaStream_t stream) {
  const size_t bytes = count * emulator::nccl_type_bytes(type);
  if (!emulator::fits_mpi(bytes)) return ncclInvalidArgument;
  emulator::enqueue_collective(
      comm, stream,
      [=](emulator::StagedCollective& c) {
        emulator::copy_in(c.out, send, bytes);  // summed in place
        if (comm->ranks == 1) return MPI_SUCCESS;
        const emulator::MpiSum sum = emulator::mpi_sum_of(type);
        return MPI_Iallreduce(MPI_IN_PLACE, c.out.data(), static_cast<int>(count), sum.type, sum.op,
                              comm->mpi, &c.request);
      },
      [=](const emulator::StagedCollective& c) { std::memcpy(recv, c.out.data(), bytes); });
  return ncclSuccess;
}
// recv (recv_count elements) = the sum over ranks of block `rank` of send; recv may be that
// block of send (NCCL's in-place form).
inline ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t recv_count,
                                      ncclDataType_t type, ncclRedOp_t, ncclComm_t comm,
                                      cudaStream_t stream) {
  const size_t bytes = recv_count * emulator::nccl_type_bytes(type);
  if (!emulator::fits_mpi(bytes * static_cast<size_t>(comm->ranks))) return ncclInvalidArgument;
  emulator::enqueue_collective(
      comm, stream,
      [=](emulator::StagedCollective& c) {
        emulator::copy_in(c.in, send, bytes * static_cast<size_t>(comm->ranks));
        if (comm->ranks == 1) {
          c.out = c.in;
          return MPI_SUCCESS;
        }
        c.out.resize(bytes);
        const emulator::MpiSum sum = emulator::mpi_sum_of(type);
        return MPI_Ireduce_scatter_block(c.in.data(), c.out.data(), static_cast<int>(recv_count),
                                         sum.type, sum.op, comm->mpi, &c.request);
      },
      [=](const emulator::StagedCollective& c) { std::memcpy(recv, c.out.data(), bytes); });
  return ncclSuccess;
}
// Block r of recv (send_count elements each) = rank r's send; send may be this rank's block.
inline ncclResult_t ncclAllGather(const void* send, void* recv, size_t send_count,
                                  ncclDataType_t type, ncclComm_t comm, cudaStream_t stream) {
  const size_t bytes = send_count * emulator::nccl_type_bytes(type);
  const size_t total = bytes * static_cast<size_t>(comm->ranks);
  if (!emulator::fits_mpi(total)) return ncclInvalidArgument;
  emulator::enqueue_collective(
      comm, stream,
      [=](emulator::StagedCollective& c) {
        emulator::copy_in(c.in, send, bytes);
        if (comm->ranks == 1) {
          c.out = c.in;
          return MPI_SUCCESS;
        }
        c.out.resize(total);
        return MPI_Iallgather(c.in.data(), static_cast<int>(bytes), MPI_BYTE, c.out.data(),
                              static_cast<int>(bytes), MPI_BYTE, comm->mpi, &c.request);
      },
      [=](const emulator::StagedCollective& c) { std::memcpy(recv, c.out.data(), total); });
  return ncclSuccess;
}
inline ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  int root, ncclComm_t comm, cudaStream_t stream) {
  const size_t bytes = count * emulator::nccl_type_bytes(type);
  if (root < 0 || root >= comm->ranks || !emulator::fits_mpi(bytes)) return ncclInvalidArgument;
  emulator::enqueue_collective(
      comm, stream,
      [=](emulator::StagedCollective& c) {
        if (comm->rank == root)
          emulator::copy_in(c.out, send, bytes);
        else
          c.out.resize(bytes);
        if (comm->ranks == 1) return MPI_SUCCESS;
        return MPI_Ibcast(c.out.data(), static_cast<int>(bytes), MPI_BYTE, root, comm->mpi,
                          &c.request);
      },
      [=](const emulator::StagedCollective& c) { std::memcpy(recv, c.out.data(), bytes); });
  return ncclSuccess;
}
