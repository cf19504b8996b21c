// threadIdx, blockIdx, blockDim, gridDim and warpSize. The scheduler rewrites the first four
// whenever it switches to another simulated thread, so a kernel reads them as plain variables.
// They are thread-local to the OS thread (not the fiber): concurrent launches from different OS
// threads each have their own. __thread rather than thread_local: no dynamic-initialisation
// wrapper call on every access.
#pragma once
#include "vector_types.h"

extern __thread uint3 threadIdx;
extern __thread uint3 blockIdx;
extern __thread dim3 blockDim;
extern __thread dim3 gridDim;

constexpr int warpSize = 32;
