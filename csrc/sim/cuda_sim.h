// The CPU simulator for CUDA kernels: everything a .cu file needs to compile with g++ and run on
// the CPU. A sim build compiles each unmodified .cu as
//   g++ -DCNNOPS_SIM -Icsrc/sim/include -include csrc/sim/cuda_sim.h -x c++ file.cu
// (csrc/sim/include/cuda_runtime.h forwards <cuda_runtime.h> here) and links the runtime
// (csrc/sim/*.cpp) plus the flags of dynamic_shared_link_flags.sh. See README.md.
#pragma once

#if defined(__CUDACC__)
#error "csrc/sim/cuda_sim.h replaces CUDA for g++; nvcc must not see it"
#endif
#if !defined(CNNOPS_SIM)
#error "compile simulator builds with -DCNNOPS_SIM (launch.cuh, ptx.cuh and dtypes.cuh key the simulator on it)"
#endif

#include "vector_types.h"
#include "qualifiers.h"
#include "cuda_runtime_sim.h"
#include "sim_api.h"
#include "builtin_variables.h"
#include "sync_functions.h"
#include "warp_functions.h"
#include "atomic_functions.h"
#include "device_functions.h"
#include "launch_sim.h"
