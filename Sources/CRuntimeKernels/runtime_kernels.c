#pragma clang diagnostic ignored "-Wpsabi"
#include <math.h>
#include "runtime_kernels.h"

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));
typedef unsigned vu __attribute__((vector_size(64)));

#define RK_TARGET "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"
#define RK_SUFFIX avx512
#include "kernels_body.h"
#include "fused_body.h"
#include "body_end.h"

#define RK_TARGET "avx2,fma"
#define RK_SUFFIX avx2
#include "kernels_body.h"
#include "fused_body.h"
#include "body_end.h"

#define RK_TARGET "sse2"
#define RK_SUFFIX base
#include "kernels_body.h"
#include "fused_body.h"
#include "body_end.h"

static int detected = -1;

int rk_isa(void) {
    if (detected < 0) {
        __builtin_cpu_init();
        detected = (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
                    && __builtin_cpu_supports("avx512vl")) ? 2
                 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    }
    return detected;
}

#define RK_DISPATCH(name, impl)                                                   \
    void name(const float *x, float *y, size_t n) {                               \
        switch (rk_isa()) {                                                       \
        case 2: impl##_avx512(x, y, n); break;                                    \
        case 1: impl##_avx2(x, y, n); break;                                      \
        default: impl##_base(x, y, n); break;                                     \
        }                                                                         \
    }

RK_DISPATCH(rk_exp, map_exp)
RK_DISPATCH(rk_tanh, map_tanh)
RK_DISPATCH(rk_erf, map_erf)
RK_DISPATCH(rk_sigmoid, map_sigmoid)
RK_DISPATCH(rk_gelu_erf, map_gelu_erf)
RK_DISPATCH(rk_gelu_tanh, map_gelu_tanh)
RK_DISPATCH(rk_softmax_row, softmax_row)

#define RK_MAP_CASES(suffix)                                                      \
    switch (function) {                                                           \
    case RK_EXP: map_exp_##suffix(x, y, n); return isa;                           \
    case RK_TANH: map_tanh_##suffix(x, y, n); return isa;                         \
    case RK_ERF: map_erf_##suffix(x, y, n); return isa;                           \
    case RK_SIGMOID: map_sigmoid_##suffix(x, y, n); return isa;                   \
    case RK_GELU: map_gelu_erf_##suffix(x, y, n); return isa;                     \
    case RK_GELU_TANH: map_gelu_tanh_##suffix(x, y, n); return isa;               \
    default: return -1;                                                           \
    }

int rk_map_with_isa(int isa, int function, const float *x, float *y, size_t n) {
    if (isa > rk_isa()) isa = rk_isa();
    if (isa < 0) isa = 0;
    switch (isa) {
    case 2: RK_MAP_CASES(avx512)
    case 1: RK_MAP_CASES(avx2)
    default: RK_MAP_CASES(base)
    }
}
#undef RK_MAP_CASES

void rk_counter_uniform(unsigned long long base, unsigned long long start, float *y, size_t n) {
    switch (rk_isa()) {
    case 2: counter_uniform_avx512(base, start, y, n); break;
    case 1: counter_uniform_avx2(base, start, y, n); break;
    default: counter_uniform_base(base, start, y, n); break;
    }
}

void rk_fused_tile(const rk_instruction *code, size_t count, float *const *registers, const size_t *masks, size_t n) {
    switch (rk_isa()) {
    case 2: fused_tile_avx512(code, count, registers, masks, n); break;
    case 1: fused_tile_avx2(code, count, registers, masks, n); break;
    default: fused_tile_base(code, count, registers, masks, n); break;
    }
}

void rk_fold(const float *p, float *acc, size_t n, int max) {
    switch (rk_isa()) {
    case 2: fold_avx512(p, acc, n, max); break;
    case 1: fold_avx2(p, acc, n, max); break;
    default: fold_base(p, acc, n, max); break;
    }
}

float rk_total(const float *p, size_t n, int max) {
    switch (rk_isa()) {
    case 2: return total_avx512(p, n, max);
    case 1: return total_avx2(p, n, max);
    default: return total_base(p, n, max);
    }
}

// The f64 check path: GraphIR's reference formulas (FusedExpression.apply) element by element.
#define RK_F64(expr) for (size_t i = 0; i < n; i++) { double x = a[i & ma], u = b[i & mb]; (void)u; y[i] = (expr); } break;
#define RK_F64_UNARY(expr) for (size_t i = 0; i < n; i++) { double x = pre_f64(ins.pre, a[i & ma], b[i & mb]); y[i] = (expr); } break;

/// The argument of a unary instruction: a, or `a pre b`.
static inline double pre_f64(int pre, double a, double b) {
    switch (pre) {
    case RK_ADD: return a + b;
    case RK_SUB: return a - b;
    case RK_MUL: return a * b;
    case RK_DIV: return a / b;
    default: return a;
    }
}

void rk_fused_tile_f64(const rk_instruction *code, size_t count, double *const *r, const size_t *mask, size_t n) {
    for (size_t k = 0; k < count; k++) {
        const rk_instruction ins = code[k];
        const double *a = r[ins.a], *b = r[ins.b], *c = r[ins.c];
        const size_t ma = mask[ins.a], mb = mask[ins.b], mc = mask[ins.c];
        double *y = r[ins.dst];
        switch (ins.op) {
        case RK_NEG: RK_F64_UNARY(-x)
        case RK_ABS: RK_F64_UNARY(fabs(x))
        case RK_EXP: RK_F64_UNARY(exp(x))
        case RK_LOG: RK_F64_UNARY(log(x))
        case RK_SQRT: RK_F64_UNARY(sqrt(x))
        case RK_RSQRT: RK_F64_UNARY(1.0 / sqrt(x))
        case RK_TANH: RK_F64_UNARY(tanh(x))
        case RK_ERF: RK_F64_UNARY(erf(x))
        case RK_SIGMOID: RK_F64_UNARY(1.0 / (1.0 + exp(-x)))
        case RK_RELU: RK_F64_UNARY(0.0 >= x ? 0.0 : x)
        case RK_SIN: RK_F64_UNARY(sin(x))
        case RK_COS: RK_F64_UNARY(cos(x))
        case RK_LOGICAL_NOT: RK_F64_UNARY(x == 0 ? 1.0 : 0.0)
        case RK_GELU: RK_F64_UNARY(0.5 * x * (1.0 + erf(x / sqrt(2.0))))
        case RK_GELU_TANH: RK_F64_UNARY(0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))))
        case RK_ADD: RK_F64(x + u)
        case RK_SUB: RK_F64(x - u)
        case RK_MUL: RK_F64(x * u)
        case RK_DIV: RK_F64(x / u)
        case RK_MAXIMUM: RK_F64(u >= x ? u : x)
        case RK_MINIMUM: RK_F64(u < x ? u : x)
        case RK_POW: RK_F64(pow(x, u))
        case RK_EQ: RK_F64(x == u ? 1.0 : 0.0)
        case RK_NE: RK_F64(x != u ? 1.0 : 0.0)
        case RK_LT: RK_F64(x < u ? 1.0 : 0.0)
        case RK_LE: RK_F64(x <= u ? 1.0 : 0.0)
        case RK_GT: RK_F64(x > u ? 1.0 : 0.0)
        case RK_GE: RK_F64(x >= u ? 1.0 : 0.0)
        case RK_LOGICAL_AND: RK_F64(x != 0 && u != 0 ? 1.0 : 0.0)
        case RK_LOGICAL_OR: RK_F64(x != 0 || u != 0 ? 1.0 : 0.0)
        case RK_WHERE: for (size_t i = 0; i < n; i++) y[i] = a[i & ma] != 0 ? b[i & mb] : c[i & mc]; break;
        default: break;
        }
    }
}
#undef RK_F64
#undef RK_F64_UNARY


// Runs of a broadcast loop in one call: before run j, a register with a nonzero stride points at
// sources[k] + j·strides[k] (mask ~0), or holds sources[k][j·strides[k]] in its 16 lanes (mask 0).
#define RK_RUNS(T, tile, total)                                                                                  \
    T *r[nregs > 0 ? nregs : 1];                                                                          \
    for (size_t j = 0; j < runs; j++) {                                                                   \
        for (size_t k = 0; k < nregs; k++) {                                                              \
            if (strides[k] == 0) {                                                                        \
                r[k] = registers[k];                                                                      \
            } else if (masks[k] == 0) {                                                                   \
                const T v = sources[k][(ptrdiff_t)j * strides[k]];                                        \
                for (int l = 0; l < 16; l++) registers[k][l] = v;                                         \
                r[k] = registers[k];                                                                      \
            } else {                                                                                      \
                r[k] = sources[k] + (ptrdiff_t)j * strides[k];                                            \
            }                                                                                             \
        }                                                                                                 \
        tile(code, count, r, masks, n);                                                                   \
        if (totals) totals[j] = total(r[result], n, max);                                                 \
    }

void rk_fused_runs(const rk_instruction *code, size_t count, float *const *registers, const size_t *masks,
                   float *const *sources, const ptrdiff_t *strides, size_t nregs, size_t n, size_t runs,
                   float *totals, size_t result, int max) {
    switch (rk_isa()) {
    case 2: { RK_RUNS(float, fused_tile_avx512, total_avx512) break; }
    case 1: { RK_RUNS(float, fused_tile_avx2, total_avx2) break; }
    default: { RK_RUNS(float, fused_tile_base, total_base) break; }
    }
}

static double total_f64(const double *p, size_t n, int max) {
    double t = max ? -__builtin_inf() : 0.0;
    for (size_t i = 0; i < n; i++) {
        if (max) { if (p[i] >= t) t = p[i]; } else { t += p[i]; }
    }
    return t;
}

void rk_fused_runs_f64(const rk_instruction *code, size_t count, double *const *registers, const size_t *masks,
                       double *const *sources, const ptrdiff_t *strides, size_t nregs, size_t n, size_t runs,
                       double *totals, size_t result, int max) {
    RK_RUNS(double, rk_fused_tile_f64, total_f64)
}
#undef RK_RUNS
