// The AVX2 + FMA + F16C tier's other hot loops: norms, softmax, RoPE, activations, attention over
// a KV cache, 16-bit float conversion, and the streaming-read probe.
#if defined(__x86_64__)
#include "x86_avx2_shared.h"
#include <math.h>

AVX2 static inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The same as exp8 for one value, for the tails, so a vector's last lanes agree with the rest.
AVX2 static inline float exp1(float x) {
    float in[8] = {x}, out[8];
    _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(in)));
    return out[0];
}

AVX2 static inline __m256 silu8(__m256 x) {
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³): the tanh-approximation GELU without cancellation.
AVX2 static inline __m256 gelu8(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u))));
}

// Loads up to 8 floats (the rest zero) and stores back the first n: one code path for tails.
AVX2 static inline __m256 load_partial(const float *p, int64_t n) {
    float t[8] = {0};
    memcpy(t, p, (size_t)n * 4);
    return _mm256_loadu_ps(t);
}

AVX2 static inline void store_partial(float *p, __m256 v, int64_t n) {
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, (size_t)n * 4);
}

AVX2 void kiln_rms_norm_avx2(const float *x, const float *weight, int64_t n, float eps, float *out) {
    __m256 a = _mm256_setzero_ps(), b = a;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 u = _mm256_loadu_ps(x + i), v = _mm256_loadu_ps(x + i + 8);
        a = _mm256_fmadd_ps(u, u, a);
        b = _mm256_fmadd_ps(v, v, b);
    }
    if (i < n) {
        const __m256 u = load_partial(x + i, n - i < 8 ? n - i : 8);
        a = _mm256_fmadd_ps(u, u, a);
        if (n - i > 8) {
            const __m256 v = load_partial(x + i + 8, n - i - 8);
            b = _mm256_fmadd_ps(v, v, b);
        }
    }
    const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(hsum(_mm256_add_ps(a, b)) / (float)n + eps));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), scale), _mm256_loadu_ps(weight + i)));
    if (i < n) store_partial(out + i, _mm256_mul_ps(_mm256_mul_ps(load_partial(x + i, n - i), scale), load_partial(weight + i, n - i)), n - i);
}

AVX2 void kiln_layer_norm_avx2(const float *x, const float *weight, const float *bias, int64_t n, float eps, float *out) {
    __m256 s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + i));
    if (i < n) s = _mm256_add_ps(s, load_partial(x + i, n - i));
    const float mean = hsum(s) / (float)n;
    const __m256 m = _mm256_set1_ps(mean);
    __m256 q = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
        q = _mm256_fmadd_ps(d, d, q);
    }
    float squares = hsum(q);
    for (; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / sqrtf(squares / (float)n + eps);
    const __m256 sc = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), sc), _mm256_loadu_ps(weight + i));
        _mm256_storeu_ps(out + i, bias ? _mm256_add_ps(v, _mm256_loadu_ps(bias + i)) : v);
    }
    for (; i < n; i++) out[i] = (x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

AVX2 void kiln_softmax_avx2(float *x, int64_t n) {
    if (n <= 0) return;
    __m256 m = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float max = hmax(m);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 mx = _mm256_set1_ps(max);
    __m256 s = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
        _mm256_storeu_ps(x + i, e);
        s = _mm256_add_ps(s, e);
    }
    float sum = hsum(s);
    for (; i < n; i++) {
        x[i] = exp1(x[i] - max);
        sum += x[i];
    }
    const __m256 inverse = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inverse));
    for (; i < n; i++) x[i] *= 1.0f / sum;
}

AVX2 void kiln_rope_avx2(float *x, int64_t heads, int64_t head_dim, int64_t rotary_dims, const float *cs, int32_t mode) {
    const int64_t pairs = rotary_dims / 2;
    const float *cosines = cs, *sines = cs + pairs;
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        int64_t i = 0;
        if (mode == KILN_ROPE_NEOX) {
            for (; i + 8 <= pairs; i += 8) {
                const __m256 c = _mm256_loadu_ps(cosines + i), s = _mm256_loadu_ps(sines + i);
                const __m256 x0 = _mm256_loadu_ps(v + i), x1 = _mm256_loadu_ps(v + pairs + i);
                _mm256_storeu_ps(v + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
                _mm256_storeu_ps(v + pairs + i, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
            }
        } else {
            // Four adjacent pairs per vector: even lanes x0·c − x1·s, odd lanes x1·c + x0·s.
            for (; i + 4 <= pairs; i += 4) {
                const __m128 c4 = _mm_loadu_ps(cosines + i), s4 = _mm_loadu_ps(sines + i);
                const __m256 c = _mm256_set_m128(_mm_unpackhi_ps(c4, c4), _mm_unpacklo_ps(c4, c4));
                const __m256 s = _mm256_set_m128(_mm_unpackhi_ps(s4, s4), _mm_unpacklo_ps(s4, s4));
                const __m256 p = _mm256_loadu_ps(v + 2 * i);
                const __m256 swapped = _mm256_permute_ps(p, 0xB1);
                _mm256_storeu_ps(v + 2 * i, _mm256_fmaddsub_ps(p, c, _mm256_mul_ps(swapped, s)));
            }
        }
        for (; i < pairs; i++) {
            const int64_t a = mode == KILN_ROPE_NEOX ? i : 2 * i, b = mode == KILN_ROPE_NEOX ? i + pairs : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * cosines[i] - x1 * sines[i];
            v[b] = x0 * sines[i] + x1 * cosines[i];
        }
    }
}

AVX2 void kiln_gelu_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) store_partial(x + i, gelu8(load_partial(x + i, n - i)), n - i);
}

AVX2 void kiln_silu_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, silu8(_mm256_loadu_ps(x + i)));
    if (i < n) store_partial(x + i, silu8(load_partial(x + i, n - i)), n - i);
}

AVX2 void kiln_swiglu_avx2(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    if (i < n) store_partial(gate + i, _mm256_mul_ps(silu8(load_partial(gate + i, n - i)), load_partial(up + i, n - i)), n - i);
}

AVX2 void kiln_f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

AVX2 void kiln_f32_to_f16_avx2(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = kiln_float_to_half(src[i]);
}

AVX2 void kiln_bf16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i))), 16));
    for (; i < n; i++) dst[i] = kiln_bf16_to_float(src[i]);
}

// Round to nearest even on the bit pattern; NaN lanes keep their top bits with the quiet bit set.
AVX2 void kiln_f32_to_bf16_avx2(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), infinity = _mm256_set1_epi32(0x7F800000);
    for (; i + 16 <= n; i += 16) {
        __m256i r[2];
        for (int h = 0; h < 2; h++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(src + i + 8 * h));
            const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
            const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))), 16);
            const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
            const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, magnitude), infinity);
            r[h] = _mm256_blendv_epi8(rounded, quiet, nan);
        }
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xD8);
        _mm256_storeu_si256((__m256i *)(dst + i), packed);
    }
    for (; i < n; i++) dst[i] = kiln_float_to_bf16(src[i]);
}

AVX2 float kiln_stream_sum_avx2(const float *p, int64_t n) {
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    for (int64_t i = 0; i < n; i += 32) {
        a = _mm256_add_ps(a, _mm256_load_ps(p + i));
        b = _mm256_add_ps(b, _mm256_load_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_load_ps(p + i + 16));
        d = _mm256_add_ps(d, _mm256_load_ps(p + i + 24));
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
}
#endif
