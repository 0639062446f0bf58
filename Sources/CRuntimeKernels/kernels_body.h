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

// Vector math. On AVX-512 a 16-float FMA or multiply issues about once per cycle on this CPU, and the kernels
// below are bound by those operations, not by memory: each form is chosen for few FMAs/multiplies (additions,
// compares and bit operations issue on other pipes) and short dependency chains. Coefficients are minimax fits
// (weighted least squares iterated to equal ripple, in double, rounded to float); errors against libm are
// measured in Tests/GraphRuntimeTests/VectorMathAccuracyTests.swift.

/// 2^n·p for p in [0.7, 1.42] and n the integer held in the low bits of t = n + 1.5·2^23: n added to p's exponent
/// bits (an integer add, not a multiply; unsigned, so wrapping bits are defined); the result must be a
/// normal float.
RK_ATTR vf RK_FN(scale2n)(vf p, vf t) { return (vf)((vu)p + ((vu)t << 23)); }

/// For x in [-87.3, 88.7]: x = n·ln2 + r with a two-constant reduction (|r| <= ln2/2), t = n + 1.5·2^23, and the
/// P(r) of e^r = 1 + r·P(r), P of degree 5 (relative error of the fit 2e-9).
RK_ATTR vf RK_FN(exp_reduce)(vf x, vf *t, vf *r) {
    const vf magic = RK_FN(splat)(12582912.0f);
    *t = x * 1.44269504f + magic;
    vf n = *t - magic;
    *r = x - n * 0.693359375f;
    *r = *r - n * -2.12194440e-4f;
    vf p = RK_FN(splat)(0.00138436444f);
    p = p * *r + 0.00837416388f;
    p = p * *r + 0.0416680016f;
    p = p * *r + 0.166664317f;
    p = p * *r + 0.49999994f;
    return p * *r + 1.0f;
}

/// e^x for x in [-87.3, 88.7] (callers clamp).
RK_ATTR vf RK_FN(vexp_in_range)(vf x) {
    vf t, r;
    vf p = RK_FN(exp_reduce)(x, &t, &r);
    return RK_FN(scale2n)(p * r + 1.0f, t);
}

/// e^x with the argument clamped to [-87.3, 88.7] (about 1.2e-38 below, 3.3e38 above); NaN propagates.
RK_ATTR vf RK_FN(vexp)(vf x) {
    return RK_FN(vexp_in_range)(RK_FN(vmin)(RK_FN(vmax)(x, RK_FN(splat)(-87.3f)), RK_FN(splat)(88.7f)));
}

/// For y in [-126, 0]: t = n + 1.5·2^23 with n = round(y), f = y − n (exact, |f| <= 1/2), and the R(f) of
/// 2^f = 1 + f·R(f), R of degree 5 (relative error of 2^f from the fit 2e-9). So 2^y = 2^n·(1 + f·R) and
/// 2^y − 1 = (2^n − 1) + 2^n·f·R without cancellation.
RK_ATTR vf RK_FN(exp2_reduce)(vf y, vf *t, vf *f) {
    const vf magic = RK_FN(splat)(12582912.0f);
    *t = y + magic;
    *f = y - (*t - magic);
    vf r = RK_FN(splat)(0.000153533416f);
    r = r * *f + 0.00133989006f;
    r = r * *f + 0.00961843785f;
    r = r * *f + 0.0555033237f;
    r = r * *f + 0.240226477f;
    return r * *f + 0.693147182f;
}

/// tanh(x) = sign(x)·m/(m + 2) with m = e^{2|x|} − 1 = (2^n − 1) + 2^n·r·P(r) (no cancellation, so tanh keeps its
/// relative accuracy near 0) and |x| clamped to 9 (tanh(9) rounds to 1).
RK_ATTR vf RK_FN(vtanh)(vf x) {
    vf a = RK_FN(vmin)((vf)((vi)x & 0x7FFFFFFF), RK_FN(splat)(9.0f));
    vf t, r;
    vf p = RK_FN(exp_reduce)(a + a, &t, &r);
    vf s = (vf)(((vu)t << 23) + (vu)RK_FN(splat)(1.0f));
    vf m = s * (r * p) + (s - 1.0f);
    vf y = m / (m + 2.0f);
    return (vf)((vi)y | ((vi)x & (int)0x80000000));
}

/// erf(x) = sign(x)·(1 − 2^{Q(|x|)}) with Q(a) = log2 erfc(a) ≈ a·P(a), P of degree 7 fitted on [0, 4] for the
/// relative error of erf (erfc(4) = 1.5e-8 rounds away: beyond 4, erf is ±1). No division: 1 − 2^Q is computed
/// as −(2^n − 1 + 2^n·(2^f − 1)), so erf keeps its relative accuracy near 0 and erf(±0) = ±0.
RK_ATTR vf RK_FN(verf)(vf x) {
    vf a = (vf)((vi)x & 0x7FFFFFFF);
    a = RK_FN(vmin)(a, RK_FN(splat)(4.0f));
    vf q = RK_FN(splat)(-5.87290524e-05f);
    q = q * a + 0.000549667224f;
    q = q * a + -0.00180588721f;
    q = q * a + -0.000296787592f;
    q = q * a + 0.0278753452f;
    q = q * a + -0.148329839f;
    q = q * a + -0.918443441f;
    q = q * a + -1.62790704f;
    q = q * a;
    vf t, f;
    vf r = RK_FN(exp2_reduce)(q, &t, &f);
    vf s = (vf)(((vu)t << 23) + (vu)RK_FN(splat)(1.0f));
    vf em1 = s * (f * r) + (s - 1.0f);
    return (vf)(((vi)em1 & 0x7FFFFFFF) | ((vi)x & (int)0x80000000));
}

RK_ATTR vf RK_FN(vsigmoid)(vf x) { return 1.0f / (1.0f + RK_FN(vexp)(-x)); }

/// gelu(x) = x·Φ(x), Φ(x) = x < 0 ? Φ(−|x|) : 1 − Φ(−|x|), Φ(−a) = 2^{G(a)} with G(a) = log2 Φ(−a) of degree 9
/// fitted on [0, 6] (weighted by √(2Φ(−a)·max(1, a)): between gelu's absolute and relative error), evaluated as even and odd halves in
/// a² (two short chains instead of one long one). Beyond |x| = 6, Φ(−|x|) < 1e-9 is taken as 0 (gelu = x or −0).
RK_ATTR vf RK_FN(vgelu_erf)(vf x) {
    vf a = (vf)((vi)x & 0x7FFFFFFF);
    vf a2 = a * a;
    vf even = RK_FN(splat)(-4.34293133e-06f);
    even = even * a2 + -0.00016732885f;
    even = even * a2 + 0.0071945372f;
    even = even * a2 + -0.459170997f;
    even = even * a2 + -0.999999881f;
    vf odd = RK_FN(splat)(1.83353535e-07f);
    odd = odd * a2 + 4.10587927e-05f;
    odd = odd * a2 + -0.000216292203f;
    odd = odd * a2 + -0.052599676f;
    odd = odd * a2 + -1.15111005f;
    vf t, f;
    vf r = RK_FN(exp2_reduce)(odd * a + even, &t, &f);
    vf e = RK_FN(scale2n)(r * f + 1.0f, t);
    e = (vf)((vi)e & ~(a > 6.0f));
    return x * RK_FN(sel)(x < 0.0f, e, 1.0f - e);
}

/// gelu_tanh(x) = x·(1 + tanh(u))/2 = x / (1 + e^{−2u}), u = √(2/π)·(x + 0.044715x³): one exp and one division;
/// x·0 below x = −10 (the value is below 2e-36 there, but e^{−2u} saturates, so x / (1 + e^{−2u}) would not vanish;
/// −inf gives NaN as in the reference formula).
RK_ATTR vf RK_FN(vgelu_tanh)(vf x) {
    vf minus2u = x * (-1.59576912f + -0.0713548162f * (x * x));
    return RK_FN(sel)(x < -10.0f, x * 0.0f, x / (1.0f + RK_FN(vexp)(minus2u)));
}

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
        v = RK_FN(vexp_in_range)(RK_FN(vmax)(v - mv, RK_FN(splat)(-87.3f)));   // v - max <= 0 (or NaN)
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

