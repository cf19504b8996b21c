// CUDA's declaration qualifiers, as g++ should read them when a .cu file is compiled for the CPU.
#pragma once

// Functions: every function is host code on the CPU, and a kernel is an ordinary function that
// the simulator calls once per simulated thread.
#define __global__
#define __device__
#define __host__
// Plain `inline`: always_inline would add failure modes (recursion, -O0) without making the
// simulation any more faithful.
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
// __restrict__ is already a g++ keyword. __noinline__ is deliberately left undefined: libstdc++
// spells __attribute__((__noinline__)), which a macro of that name would break.

// Variables. Device globals and constants are ordinary globals, visible to every simulated thread
// and to the host (cudaMemcpyToSymbol copies into them).
#define __constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))

// Shared memory. thread_local gives block-scope declarations static storage (one instance, seen
// by every simulated thread, since all fibers of a block run on one OS thread) and still composes
// with `extern` for dynamic shared memory (`static` would not). A different OS thread running
// another launch gets its own instance. Per block the simulator poisons every static __shared__
// variable (it poisons the TLS block of the kernel's module, see shared_memory.cpp); every
// `extern __shared__` name is an alias of the launch's dynamic shared memory, made at link time
// by dynamic_shared_link_flags.sh. README.md explains both.
#define __shared__ thread_local
