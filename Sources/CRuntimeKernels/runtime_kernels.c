#pragma clang diagnostic ignored "-Wpsabi"
#include "runtime_kernels.h"

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));

#define RK_TARGET "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"
#define RK_SUFFIX avx512
#include "kernels_body.h"
#undef RK_TARGET
#undef RK_SUFFIX

#define RK_TARGET "avx2,fma"
#define RK_SUFFIX avx2
#include "kernels_body.h"
#undef RK_TARGET
#undef RK_SUFFIX

#define RK_TARGET "sse2"
#define RK_SUFFIX base
#include "kernels_body.h"
#undef RK_TARGET
#undef RK_SUFFIX

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

void rk_counter_uniform(unsigned long long base, unsigned long long start, float *y, size_t n) {
    switch (rk_isa()) {
    case 2: counter_uniform_avx512(base, start, y, n); break;
    case 1: counter_uniform_avx2(base, start, y, n); break;
    default: counter_uniform_base(base, start, y, n); break;
    }
}
