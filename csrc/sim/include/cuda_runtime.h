// Stand-in for CUDA's <cuda_runtime.h> in simulator builds only: sim builds put csrc/sim/include
// first on the include path, so the unmodified `#include <cuda_runtime.h>` of a .cu / .cuh file
// lands here and gets the simulator instead of the CUDA toolkit.
#pragma once
#if !defined(CNNOPS_SIM)
#error "csrc/sim/include is on the include path but CNNOPS_SIM is not defined: this is not a simulator build"
#endif
#include "../cuda_sim.h"
