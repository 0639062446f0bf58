// Included once per instruction set by runtime_kernels.c with RK_TARGET and RK_SUFFIX defined.
// vf is 16 floats; on AVX2 the compiler splits it into two ymm registers, on baseline into four xmm.
#define RK_CAT2(a, b) a##_##b
#define RK_CAT(a, b) RK_CAT2(a, b)
#define RK_FN(name) RK_CAT(name, RK_SUFFIX)
#define RK_ATTR __attribute__((target(RK_TARGET), always_inline)) static inline
#define RK_KERNEL __attribute__((target(RK_TARGET))) static

RK_ATTR vf RK_FN(splat)(float v) { vf r = {v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v}; return r; }
RK_ATTR vf RK_FN(sel)(vi m, vf a, vf b) { return (vf)(((vi)b) ^ ((((vi)a) ^ ((vi)b)) & m)); }
RK_ATTR vf RK_FN(vmax)(vf a, vf b) { return RK_FN(sel)(b >= a, b, a); }
RK_ATTR vf RK_FN(vmin)(vf a, vf b) { return RK_FN(sel)(b < a, b, a); }

RK_ATTR vf RK_FN(vexp)(vf x) {
    x = RK_FN(vmin)(RK_FN(vmax)(x, RK_FN(splat)(-87.3f)), RK_FN(splat)(88.7f));
    const vf magic = RK_FN(splat)(12582912.0f);
    vf t = x * 1.44269504f + magic;
    vf n = t - magic;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = RK_FN(splat)(1.98756915e-4f);
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 0.166666655f;
    p = p * r + 0.50000001f;
    p = p * (r * r) + r + 1.0f;
    vi bits = ((vi)t - (vi)magic + 127) << 23;
    return p * (vf)bits;
}

RK_ATTR vf RK_FN(vtanh)(vf x) {
    vf c = RK_FN(vmin)(RK_FN(vmax)(x, RK_FN(splat)(-9.0f)), RK_FN(splat)(9.0f));
    vf e = RK_FN(vexp)(c * 2.0f);
    return 1.0f - 2.0f / (e + 1.0f);
}

RK_ATTR vf RK_FN(verf)(vf x) {
    vi sign = (vi)x & (int)0x80000000;
    vf a = (vf)((vi)x & 0x7FFFFFFF);
    vf t = 1.0f / (1.0f + 0.3275911f * a);
    vf p = RK_FN(splat)(1.061405429f);
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    vf y = 1.0f - p * t * RK_FN(vexp)(-(a * a));
    return (vf)((vi)y | sign);
}

RK_ATTR vf RK_FN(vsigmoid)(vf x) { return 1.0f / (1.0f + RK_FN(vexp)(-x)); }
RK_ATTR vf RK_FN(vgelu_erf)(vf x) { return 0.5f * x * (1.0f + RK_FN(verf)(x * 0.70710678f)); }
RK_ATTR vf RK_FN(vgelu_tanh)(vf x) { return 0.5f * x * (1.0f + RK_FN(vtanh)(0.79788456f * (x + 0.044715f * x * x * x))); }

// Array map with a partial last vector (zero-filled lanes are computed and dropped).
#define RK_MAP(name, f)                                                           \
    RK_KERNEL void RK_FN(name)(const float *x, float *y, size_t n) {              \
        size_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16) {                                            \
            vf v;                                                                 \
            __builtin_memcpy(&v, x + i, sizeof v);                                \
            v = f(v);                                                             \
            __builtin_memcpy(y + i, &v, sizeof v);                                \
        }                                                                         \
        if (i < n) {                                                              \
            vf v = RK_FN(splat)(0.0f);                                            \
            __builtin_memcpy(&v, x + i, (n - i) * sizeof(float));                 \
            v = f(v);                                                             \
            __builtin_memcpy(y + i, &v, (n - i) * sizeof(float));                 \
        }                                                                         \
    }

RK_MAP(map_exp, RK_FN(vexp))
RK_MAP(map_tanh, RK_FN(vtanh))
RK_MAP(map_erf, RK_FN(verf))
RK_MAP(map_sigmoid, RK_FN(vsigmoid))
RK_MAP(map_gelu_erf, RK_FN(vgelu_erf))
RK_MAP(map_gelu_tanh, RK_FN(vgelu_tanh))

RK_KERNEL void RK_FN(softmax_row)(const float *x, float *y, size_t n) {
    vf m = RK_FN(splat)(-__builtin_inff());
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { vf v; __builtin_memcpy(&v, x + i, sizeof v); m = RK_FN(vmax)(m, v); }
    float mx = m[0];
    for (int k = 1; k < 16; k++) if (m[k] >= mx) mx = m[k];
    for (; i < n; i++) if (x[i] >= mx) mx = x[i];
    vf mv = RK_FN(splat)(mx), acc = RK_FN(splat)(0.0f);
    float s = 0;
    for (i = 0; i + 16 <= n; i += 16) {
        vf v;
        __builtin_memcpy(&v, x + i, sizeof v);
        v = RK_FN(vexp)(v - mv);
        __builtin_memcpy(y + i, &v, sizeof v);
        acc += v;
    }
    if (i < n) {
        vf v = RK_FN(splat)(-__builtin_inff());
        __builtin_memcpy(&v, x + i, (n - i) * sizeof(float));
        v = RK_FN(vexp)(v - mv);
        __builtin_memcpy(y + i, &v, (n - i) * sizeof(float));
        for (size_t k = 0; k < n - i; k++) s += v[k];
    }
    for (int k = 0; k < 16; k++) s += acc[k];
    vf inv = RK_FN(splat)(1.0f / s);
    for (i = 0; i + 16 <= n; i += 16) {
        vf v;
        __builtin_memcpy(&v, y + i, sizeof v);
        v *= inv;
        __builtin_memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++) y[i] *= inv[0];
}

// GraphIR's counterUniform (SplitMix64 finalizer over seed, salt and index) for indices start..<start+n;
// `base` = seed·0x9E3779B97F4A7C15 ^ salt·0xC2B2AE3D27D4EB4F. 64-bit lanes: vectorized where the ISA has them.
RK_KERNEL void RK_FN(counter_uniform)(unsigned long long base, unsigned long long start, float *y, size_t n) {
#pragma clang loop vectorize(enable)
    for (size_t i = 0; i < n; i++) {
        unsigned long long z = base + (start + i) * 0x165667B19E3779F9ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        y[i] = (float)(unsigned)(z >> 40) * 0x1p-24f;
    }
}

