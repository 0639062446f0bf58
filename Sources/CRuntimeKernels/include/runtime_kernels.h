#ifndef GRAPHC_RUNTIME_KERNELS_H
#define GRAPHC_RUNTIME_KERNELS_H
// Hot f32 row kernels of GraphRuntime in C, compiled three times (AVX-512, AVX2+FMA, baseline x86-64) and chosen
// once at run time from the CPU's features, so a portable build (no unsafe flags) runs native vector code.
// The vector math (exp, tanh, erf, sigmoid, GELU) is described in kernels_body.h; VectorMath.swift keeps Swift
// versions (Cephes exp and log) for the few Swift f32 kernels that need them.
#include <stddef.h>
#include <stdint.h>

/// 2 = AVX-512, 1 = AVX2+FMA, 0 = baseline: the instruction set the kernels below use on this CPU.
int rk_isa(void);
/// y[i] = f(x[i]) for n elements; y may equal x.
void rk_exp(const float *x, float *y, size_t n);
void rk_tanh(const float *x, float *y, size_t n);
void rk_erf(const float *x, float *y, size_t n);
void rk_sigmoid(const float *x, float *y, size_t n);
void rk_gelu_erf(const float *x, float *y, size_t n);
void rk_gelu_tanh(const float *x, float *y, size_t n);
/// Tests: y[i] = f(x[i]) with `function` one of RK_EXP, RK_TANH, RK_ERF, RK_SIGMOID, RK_GELU, RK_GELU_TANH, run by
/// the given instruction set's copy (2 = AVX-512, 1 = AVX2+FMA, 0 = baseline; lowered to what this CPU has).
/// Returns the instruction set used, or -1 for another function.
int rk_map_with_isa(int isa, int function, const float *x, float *y, size_t n);
/// y = softmax(x) over one row of n (y may equal x).
void rk_softmax_row(const float *x, float *y, size_t n);
/// y[i] = GraphIR counterUniform(seed, salt, start + i) with base = seed·0x9E3779B97F4A7C15 ^ salt·0xC2B2AE3D27D4EB4F.
void rk_counter_uniform(unsigned long long base, unsigned long long start, float *y, size_t n);

/// Functions of a fused-expression tile program (the names of GraphIR's FusedExpression). Booleans are 0/1.
typedef enum {
    RK_NEG, RK_ABS, RK_EXP, RK_LOG, RK_SQRT, RK_RSQRT, RK_TANH, RK_ERF, RK_SIGMOID, RK_RELU, RK_SIN, RK_COS,
    RK_LOGICAL_NOT, RK_GELU, RK_GELU_TANH, RK_ADD, RK_SUB, RK_MUL, RK_DIV, RK_MAXIMUM, RK_MINIMUM, RK_POW,
    RK_EQ, RK_NE, RK_LT, RK_LE, RK_GT, RK_GE, RK_LOGICAL_AND, RK_LOGICAL_OR, RK_WHERE
} rk_function;
/// registers[dst][i] = op(registers[a][i], registers[b][i], registers[c][i]) for i < n (unused arguments ignored).
/// A unary op with `pre` RK_ADD, RK_SUB, RK_MUL or RK_DIV applies to `a pre b` instead (one pass for f(a + b));
/// `pre` is -1 otherwise.
typedef struct { int op, dst, a, b, c, pre; } rk_instruction;
/// Runs `count` instructions in order over registers of n values each. Register k's element i is at
/// registers[k][i & masks[k]]: mask ~0 for n values, 0 for one value stored 16 times (a broadcast scalar). Only an
/// instruction's destination is written, element i after element i of its arguments is read, so a destination may
/// alias an argument; destinations have mask ~0.
void rk_fused_tile(const rk_instruction *code, size_t count, float *const *registers, const size_t *masks, size_t n);
/// The same in double with the reference formulas (libm per element): the f64 check path.
void rk_fused_tile_f64(const rk_instruction *code, size_t count, double *const *registers, const size_t *masks, size_t n);
/// `runs` consecutive tiles of n values (the runs of a broadcast loop, or the rows of a reduction) in one call.
/// Before tile j, register k with strides[k] = 0 is registers[k]; otherwise it points at sources[k] + j·strides[k]
/// (masks[k] ~0), or, with masks[k] = 0, registers[k] is filled with the scalar sources[k][j·strides[k]] in 16
/// lanes. With `totals` non-null, totals[j] = the sum (or with `max` nonzero the maximum) of register `result`.
void rk_fused_runs(const rk_instruction *code, size_t count, float *const *registers, const size_t *masks,
                   float *const *sources, const ptrdiff_t *strides, size_t nregs, size_t n, size_t runs,
                   float *totals, size_t result, int max);
void rk_fused_runs_f64(const rk_instruction *code, size_t count, double *const *registers, const size_t *masks,
                       double *const *sources, const ptrdiff_t *strides, size_t nregs, size_t n, size_t runs,
                       double *totals, size_t result, int max);
/// Folds one tile into a reduction: acc[i] += p[i], or with `max` nonzero acc[i] = p[i] >= acc[i] ? p[i] : acc[i].
void rk_fold(const float *p, float *acc, size_t n, int max);
/// The sum of n values, or with `max` nonzero their maximum (-inf for n = 0; NaN never wins, as in the reference).
float rk_total(const float *p, size_t n, int max);
#endif
