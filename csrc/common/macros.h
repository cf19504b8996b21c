// Portability macros shared by the CPU kernels, the CUDA kernels and the simulator.
// This header must stay free of torch includes: .cu files include it.
//
// Only nvcc needs the qualifiers. Under the simulator (CNNOPS_SIM) every function is host code
// anyway, and keying on __CUDACC__ alone lets torch-side .cpp files of the simulator module
// include the shared headers without the simulator's qualifier macros.
#pragma once

#if defined(__CUDACC__)
#define CNNOPS_HD __host__ __device__
#define CNNOPS_HD_INLINE __host__ __device__ __forceinline__
#else
#define CNNOPS_HD
#define CNNOPS_HD_INLINE inline
#endif
