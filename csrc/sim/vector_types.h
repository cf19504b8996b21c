// CUDA's built-in vector types (vector_types.h) with their alignments, dim3, and the make_*
// helpers kernels commonly use. Plain structs: kernels load and store them as on a GPU.
#pragma once

#define CNNOPS_SIM_VECTOR_TYPES(name, scalar, align2, align4)                            \
  struct name##1 { scalar x; };                                                           \
  struct __attribute__((aligned(align2))) name##2 { scalar x, y; };                       \
  struct name##3 { scalar x, y, z; };                                                     \
  struct __attribute__((aligned(align4))) name##4 { scalar x, y, z, w; };                 \
  inline name##1 make_##name##1(scalar x) { return {x}; }                                 \
  inline name##2 make_##name##2(scalar x, scalar y) { return {x, y}; }                    \
  inline name##3 make_##name##3(scalar x, scalar y, scalar z) { return {x, y, z}; }       \
  inline name##4 make_##name##4(scalar x, scalar y, scalar z, scalar w) { return {x, y, z, w}; }

CNNOPS_SIM_VECTOR_TYPES(char, signed char, 2, 4)
CNNOPS_SIM_VECTOR_TYPES(uchar, unsigned char, 2, 4)
CNNOPS_SIM_VECTOR_TYPES(short, short, 4, 8)
CNNOPS_SIM_VECTOR_TYPES(ushort, unsigned short, 4, 8)
CNNOPS_SIM_VECTOR_TYPES(int, int, 8, 16)
CNNOPS_SIM_VECTOR_TYPES(uint, unsigned int, 8, 16)
CNNOPS_SIM_VECTOR_TYPES(longlong, long long, 16, 16)
CNNOPS_SIM_VECTOR_TYPES(ulonglong, unsigned long long, 16, 16)
CNNOPS_SIM_VECTOR_TYPES(float, float, 8, 16)
CNNOPS_SIM_VECTOR_TYPES(double, double, 16, 16)

#undef CNNOPS_SIM_VECTOR_TYPES

// Launch geometry: every component defaults to 1, as in CUDA.
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
