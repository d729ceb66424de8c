// The NCCL communicator (device buffers, the CUDA backend), behind the
// Communicator interface. Plain C++ here, no CUDA headers: the implementation
// (communicator_nccl.cpp) is compiled only in builds with CUDA and MPI.
//
// Set-up: the local rank and size come from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)
// and select the GPU by the rule of distributed/gpu_for_rank.h (one GPU per
// rank); rank 0's NCCL unique id reaches the others by MPI broadcast. Device
// collectives run on the communicator's own CUDA stream, ordered after the
// compute stream (core/cuda/context.h) by an event; waiting polls the completion event and
// ncclCommGetAsyncError against the CollectiveWatchdog and aborts the NCCL
// communicator on a timeout or an asynchronous error. Host tensors, numbers
// and barriers go through MPI.
#pragma once

#include <mpi.h>

#include <memory>

#include "distributed/communicator.h"

namespace diffuse {

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm world, double timeout_seconds);

}  // namespace diffuse
