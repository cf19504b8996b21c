// Portability macros shared by the CPU kernels, the CUDA kernels and (later) the simulator.
// This header must stay free of torch includes: .cu files include it.
#pragma once

#if defined(__CUDACC__) || defined(CNNOPS_SIM)
#define CNNOPS_HD __host__ __device__
#define CNNOPS_HD_INLINE __host__ __device__ __forceinline__
#else
#define CNNOPS_HD
#define CNNOPS_HD_INLINE inline
#endif
