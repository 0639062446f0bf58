// Included once per instruction set by runtime_kernels.c, after kernels_body.h (whose helpers it uses).
// A fused-expression tile program: each instruction is one vector loop over a whole register of n floats, so the
// expression tree is walked once per tile (a few hundred elements), never per element. A register whose mask is 0
// holds one value in 16 lanes (a broadcast operand or a literal): `p + (i & mask)` reads it at every i.

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
#define RK_PASS1(X, XPART, f)                                                                          \
    {                                                                                                  \
        size_t i = 0;                                                                                  \
        for (; i + 16 <= n; i += 16) { vf x = X; RK_FN(store)(y + i, f); }                             \
        if (i < n) { size_t m = n - i; vf x = XPART; RK_FN(storePart)(y + i, f, m); }                  \
    }                                                                                                  \
    break;
#define RK_A RK_FN(load)(a + (i & ma))
#define RK_B RK_FN(load)(b + (i & mb))
#define RK_AP RK_FN(loadPart)(a + (i & ma), m)
#define RK_BP RK_FN(loadPart)(b + (i & mb), m)
// A unary function, of register a or of `a pre b` (the two-level expressions f(a + b) in one pass).
#define RK_LOOP1(f)                                                                                    \
    switch (ins.pre) {                                                                                 \
    case RK_ADD: RK_PASS1(RK_A + RK_B, RK_AP + RK_BP, f)                                               \
    case RK_SUB: RK_PASS1(RK_A - RK_B, RK_AP - RK_BP, f)                                               \
    case RK_MUL: RK_PASS1(RK_A * RK_B, RK_AP * RK_BP, f)                                               \
    case RK_DIV: RK_PASS1(RK_A / RK_B, RK_AP / RK_BP, f)                                               \
    default: RK_PASS1(RK_A, RK_AP, f)                                                                  \
    }                                                                                                  \
    break;
#define RK_LOOP2(f)                                                                                    \
    {                                                                                                  \
        size_t i = 0;                                                                                  \
        for (; i + 16 <= n; i += 16) {                                                                 \
            vf x = RK_FN(load)(a + (i & ma)), u = RK_FN(load)(b + (i & mb));                                         \
            RK_FN(store)(y + i, f);                                                                    \
        }                                                                                              \
        if (i < n) {                                                                                   \
            size_t m = n - i;                                                                          \
            vf x = RK_FN(loadPart)(a + (i & ma), m), u = RK_FN(loadPart)(b + (i & mb), m);                           \
            RK_FN(storePart)(y + i, f, m);                                                             \
        }                                                                                              \
    }                                                                                                  \
    break;

RK_KERNEL void RK_FN(fused_tile)(const rk_instruction *code, size_t count, float *const *r, const size_t *mask, size_t n) {
    for (size_t k = 0; k < count; k++) {
        const rk_instruction ins = code[k];
        const float *a = r[ins.a], *b = r[ins.b], *c = r[ins.c];
        const size_t ma = mask[ins.a], mb = mask[ins.b], mc = mask[ins.c];
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
                vf s = RK_FN(load)(a + (i & ma)), t = RK_FN(load)(b + (i & mb)), f = RK_FN(load)(c + (i & mc));
                RK_FN(store)(y + i, RK_FN(sel)(s != 0.0f, t, f));
            }
            if (i < n) {
                size_t m = n - i;
                vf s = RK_FN(loadPart)(a + (i & ma), m), t = RK_FN(loadPart)(b + (i & mb), m), f = RK_FN(loadPart)(c + (i & mc), m);
                RK_FN(storePart)(y + i, RK_FN(sel)(s != 0.0f, t, f), m);
            }
            break;
        }
        // No vector form: sin, cos and pow go through libm in double (they are rare in fused graphs).
        case RK_SIN: for (size_t i = 0; i < n; i++) y[i] = (float)sin((double)a[i & ma]); break;
        case RK_COS: for (size_t i = 0; i < n; i++) y[i] = (float)cos((double)a[i & ma]); break;
        case RK_POW: for (size_t i = 0; i < n; i++) y[i] = (float)pow((double)a[i & ma], (double)b[i & mb]); break;
        default: break;
        }
    }
}

/// acc[i] += p[i] (or acc[i] = max: p[i] >= acc[i] ? p[i] : acc[i]) for i < n: a reduction folding one tile.
RK_KERNEL void RK_FN(fold)(const float *p, float *acc, size_t n, int max) {
    size_t i = 0;
    if (max) {
        for (; i + 16 <= n; i += 16) RK_FN(store)(acc + i, RK_FN(vmax)(RK_FN(load)(acc + i), RK_FN(load)(p + i)));
        for (; i < n; i++) if (p[i] >= acc[i]) acc[i] = p[i];
    } else {
        for (; i + 16 <= n; i += 16) RK_FN(store)(acc + i, RK_FN(load)(acc + i) + RK_FN(load)(p + i));
        for (; i < n; i++) acc[i] += p[i];
    }
}

/// The sum (or the max, -inf when n = 0) of n values, with vector accumulators.
RK_KERNEL float RK_FN(total)(const float *p, size_t n, int max) {
    size_t i = 0;
    vf acc = RK_FN(splat)(max ? -__builtin_inff() : 0.0f);
    if (max) {
        for (; i + 16 <= n; i += 16) acc = RK_FN(vmax)(acc, RK_FN(load)(p + i));
    } else {
        vf acc2 = RK_FN(splat)(0.0f);
        for (; i + 32 <= n; i += 32) { acc += RK_FN(load)(p + i); acc2 += RK_FN(load)(p + i + 16); }
        acc += acc2;
        for (; i + 16 <= n; i += 16) acc += RK_FN(load)(p + i);
    }
    float t = acc[0];
    for (int k = 1; k < 16; k++) { if (max) { if (acc[k] >= t) t = acc[k]; } else { t += acc[k]; } }
    for (; i < n; i++) { if (max) { if (p[i] >= t) t = p[i]; } else { t += p[i]; } }
    return t;
}

#undef RK_LOOP1
#undef RK_LOOP2
#undef RK_PASS1
#undef RK_A
#undef RK_B
#undef RK_AP
#undef RK_BP
