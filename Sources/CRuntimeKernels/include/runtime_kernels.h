#ifndef GRAPHC_RUNTIME_KERNELS_H
#define GRAPHC_RUNTIME_KERNELS_H
// Hot f32 row kernels of GraphRuntime in C, compiled three times (AVX-512, AVX2+FMA, baseline x86-64) and chosen
// once at run time from the CPU's features, so a portable build (no unsafe flags) runs native vector code.
// Same polynomials as Sources/GraphRuntime/Kernels/VectorMath.swift.
#include <stddef.h>

/// 2 = AVX-512, 1 = AVX2+FMA, 0 = baseline: the instruction set the kernels below use on this CPU.
int rk_isa(void);
/// y[i] = f(x[i]) for n elements; y may equal x.
void rk_exp(const float *x, float *y, size_t n);
void rk_tanh(const float *x, float *y, size_t n);
void rk_erf(const float *x, float *y, size_t n);
void rk_sigmoid(const float *x, float *y, size_t n);
void rk_gelu_erf(const float *x, float *y, size_t n);
void rk_gelu_tanh(const float *x, float *y, size_t n);
/// y = softmax(x) over one row of n (y may equal x).
void rk_softmax_row(const float *x, float *y, size_t n);
/// y[i] = GraphIR counterUniform(seed, salt, start + i) with base = seed·0x9E3779B97F4A7C15 ^ salt·0xC2B2AE3D27D4EB4F.
void rk_counter_uniform(unsigned long long base, unsigned long long start, float *y, size_t n);
#endif
