// DIFFUSE_HD marks element math that both backends run: compiled as
// __host__ __device__ under nvcc and as plain inline C++ elsewhere, so the
// CPU tests exercise exactly the formulas the GPU kernels use.
#pragma once

#if defined(__CUDACC__)
#define DIFFUSE_HD __host__ __device__ inline
#else
#define DIFFUSE_HD inline
#endif
