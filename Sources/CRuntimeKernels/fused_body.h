// Included once per instruction set by runtime_kernels.c, after kernels_body.h (whose helpers it uses).
// A fused-expression tile program: each instruction is one vector loop over a whole register of n floats, so the
// expression tree is walked once per tile (a few hundred elements), never per element.

/// Cephes logf, as vlog in Sources/GraphRuntime/Kernels/VectorMath.swift; special values as libm gives them.
RK_ATTR vf RK_FN(vlog)(vf x) {
    vf c = RK_FN(vmin)(RK_FN(vmax)(x, RK_FN(splat)(1.17549435e-38f)), RK_FN(splat)(3.40282347e38f));
    vi bits = (vi)c;
    vf e = __builtin_convertvector((bits >> 23) - 126, vf);
    vf m = (vf)((bits & 0x007FFFFF) | 0x3F000000);
    vi low = m < 0.70710678f;
    e = RK_FN(sel)(low, e - 1.0f, e);
    m = RK_FN(sel)(low, m + m, m) - 1.0f;
    vf z = m * m;
    vf p = RK_FN(splat)(7.0376836e-2f);
    p = p * m - 1.1514610e-1f;
    p = p * m + 1.1676999e-1f;
    p = p * m - 1.2420141e-1f;
    p = p * m + 1.4249323e-1f;
    p = p * m - 1.6668058e-1f;
    p = p * m + 2.0000714e-1f;
    p = p * m - 2.4999994e-1f;
    p = p * m + 3.3333331e-1f;
    vf y = p * m * z + e * -2.12194440e-4f - 0.5f * z + m + e * 0.693359375f;
    y = RK_FN(sel)(x == __builtin_inff(), x, y);
    y = RK_FN(sel)(x < 0.0f, RK_FN(splat)(__builtin_nanf("")), y);
    y = RK_FN(sel)(x == 0.0f, RK_FN(splat)(-__builtin_inff()), y);
    return RK_FN(sel)(x != x, x, y);
}

/// 1.0f where the lane mask is set, else 0.
RK_ATTR vf RK_FN(ones)(vi m) { return (vf)(m & (vi)RK_FN(splat)(1.0f)); }

RK_ATTR vf RK_FN(load)(const float *p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
RK_ATTR void RK_FN(store)(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
/// The first m < 16 lanes of p; the other lanes are 0.
RK_ATTR vf RK_FN(loadPart)(const float *p, size_t m) { vf v = RK_FN(splat)(0.0f); __builtin_memcpy(&v, p, m * sizeof(float)); return v; }
RK_ATTR void RK_FN(storePart)(float *p, vf v, size_t m) { __builtin_memcpy(p, &v, m * sizeof(float)); }

// One instruction as a vector loop; the last partial vector touches only its m lanes of memory.
#define RK_LOOP1(f)                                                                                    \
    {                                                                                                  \
        size_t i = 0;                                                                                  \
        for (; i + 16 <= n; i += 16) { vf x = RK_FN(load)(a + i); RK_FN(store)(y + i, f); }          \
        if (i < n) { size_t m = n - i; vf x = RK_FN(loadPart)(a + i, m); RK_FN(storePart)(y + i, f, m); } \
    }                                                                                                  \
    break;
#define RK_LOOP2(f)                                                                                    \
    {                                                                                                  \
        size_t i = 0;                                                                                  \
        for (; i + 16 <= n; i += 16) {                                                                 \
            vf x = RK_FN(load)(a + i), u = RK_FN(load)(b + i);                                         \
            RK_FN(store)(y + i, f);                                                                    \
        }                                                                                              \
        if (i < n) {                                                                                   \
            size_t m = n - i;                                                                          \
            vf x = RK_FN(loadPart)(a + i, m), u = RK_FN(loadPart)(b + i, m);                           \
            RK_FN(storePart)(y + i, f, m);                                                             \
        }                                                                                              \
    }                                                                                                  \
    break;

RK_KERNEL void RK_FN(fused_tile)(const rk_instruction *code, size_t count, float *const *r, size_t n) {
    for (size_t k = 0; k < count; k++) {
        const rk_instruction ins = code[k];
        const float *a = r[ins.a], *b = r[ins.b], *c = r[ins.c];
        float *y = r[ins.dst];
        switch (ins.op) {
        case RK_NEG: RK_LOOP1(-x)
        case RK_ABS: RK_LOOP1((vf)((vi)x & 0x7FFFFFFF))
        case RK_EXP: RK_LOOP1(RK_FN(vexp)(x))
        case RK_LOG: RK_LOOP1(RK_FN(vlog)(x))
        case RK_SQRT: RK_LOOP1(__builtin_elementwise_sqrt(x))
        case RK_RSQRT: RK_LOOP1(1.0f / __builtin_elementwise_sqrt(x))
        case RK_TANH: RK_LOOP1(RK_FN(vtanh)(x))
        case RK_ERF: RK_LOOP1(RK_FN(verf)(x))
        case RK_SIGMOID: RK_LOOP1(RK_FN(vsigmoid)(x))
        case RK_RELU: RK_LOOP1(RK_FN(vmax)(x, RK_FN(splat)(0.0f)))
        case RK_LOGICAL_NOT: RK_LOOP1(RK_FN(ones)(x == 0.0f))
        case RK_GELU: RK_LOOP1(RK_FN(vgelu_erf)(x))
        case RK_GELU_TANH: RK_LOOP1(RK_FN(vgelu_tanh)(x))
        case RK_ADD: RK_LOOP2(x + u)
        case RK_SUB: RK_LOOP2(x - u)
        case RK_MUL: RK_LOOP2(x * u)
        case RK_DIV: RK_LOOP2(x / u)
        case RK_MAXIMUM: RK_LOOP2(RK_FN(vmax)(x, u))
        case RK_MINIMUM: RK_LOOP2(RK_FN(vmin)(x, u))
        case RK_EQ: RK_LOOP2(RK_FN(ones)(x == u))
        case RK_NE: RK_LOOP2(RK_FN(ones)(x != u))
        case RK_LT: RK_LOOP2(RK_FN(ones)(x < u))
        case RK_LE: RK_LOOP2(RK_FN(ones)(x <= u))
        case RK_GT: RK_LOOP2(RK_FN(ones)(x > u))
        case RK_GE: RK_LOOP2(RK_FN(ones)(x >= u))
        case RK_LOGICAL_AND: RK_LOOP2(RK_FN(ones)((x != 0.0f) & (u != 0.0f)))
        case RK_LOGICAL_OR: RK_LOOP2(RK_FN(ones)((x != 0.0f) | (u != 0.0f)))
        case RK_WHERE: {
            size_t i = 0;
            for (; i + 16 <= n; i += 16) {
                vf s = RK_FN(load)(a + i), t = RK_FN(load)(b + i), f = RK_FN(load)(c + i);
                RK_FN(store)(y + i, RK_FN(sel)(s != 0.0f, t, f));
            }
            if (i < n) {
                size_t m = n - i;
                vf s = RK_FN(loadPart)(a + i, m), t = RK_FN(loadPart)(b + i, m), f = RK_FN(loadPart)(c + i, m);
                RK_FN(storePart)(y + i, RK_FN(sel)(s != 0.0f, t, f), m);
            }
            break;
        }
        // No vector form: sin, cos and pow go through libm in double (they are rare in fused graphs).
        case RK_SIN: for (size_t i = 0; i < n; i++) y[i] = (float)sin((double)a[i]); break;
        case RK_COS: for (size_t i = 0; i < n; i++) y[i] = (float)cos((double)a[i]); break;
        case RK_POW: for (size_t i = 0; i < n; i++) y[i] = (float)pow((double)a[i], (double)b[i]); break;
        default: break;
        }
    }
}

#undef RK_LOOP1
#undef RK_LOOP2
