// kiln_compare_f32 (kiln_compare.h): eight lanes of f64 partial sums, combined in a fixed order at
// the end, so every compilation gives the same bits.
#include "kiln_compare.h"

typedef double lanes_d __attribute__((vector_size(64)));
typedef float lanes_f __attribute__((vector_size(32)));
typedef int64_t lanes_i __attribute__((vector_size(64)));

// BODY(T): the sums over T a[n], b[n] (float or double), LOAD8 turning 8 of them into f64 lanes.
#define BODY(LOAD8)                                                                                                  \
    lanes_d abs = {0}, squared_error = {0}, squares_a = {0}, squares_b = {0}, products = {0}, peak = {0};            \
    lanes_i differing = {0}, beyond = {0};                                                                           \
    const lanes_d atol_lanes = {atol, atol, atol, atol, atol, atol, atol, atol};                                     \
    const lanes_d rtol_lanes = {rtol, rtol, rtol, rtol, rtol, rtol, rtol, rtol};                                     \
    int64_t i = 0;                                                                                                   \
    for (; i + 8 <= n; i += 8) {                                                                                     \
        const lanes_d x = LOAD8(a + i), y = LOAD8(b + i);                                                            \
        const lanes_d d = x - y, ad = __builtin_elementwise_abs(d);                                                  \
        abs += ad;                                                                                                   \
        squared_error += d * d;                                                                                      \
        squares_a += x * x;                                                                                          \
        squares_b += y * y;                                                                                          \
        products += x * y;                                                                                           \
        peak = __builtin_elementwise_max(peak, ad);                                                                  \
        differing -= (lanes_i)(d != 0);                                                                              \
        beyond -= (lanes_i)(ad > atol_lanes + rtol_lanes * __builtin_elementwise_abs(y));                            \
    }                                                                                                                \
    kiln_compare_sums s = {0};                                                                                       \
    for (int l = 0; l < 8; l++) {                                                                                    \
        s.abs += abs[l];                                                                                             \
        s.squared_error += squared_error[l];                                                                         \
        s.squares_a += squares_a[l];                                                                                 \
        s.squares_b += squares_b[l];                                                                                 \
        s.products += products[l];                                                                                   \
        s.peak = peak[l] > s.peak ? peak[l] : s.peak;                                                                \
        s.differing += differing[l];                                                                                 \
        s.beyond += beyond[l];                                                                                       \
    }                                                                                                                \
    for (; i < n; i++) {                                                                                             \
        const double x = a[i], y = b[i], d = x - y, ad = d < 0 ? -d : d;                                             \
        s.abs += ad;                                                                                                 \
        s.squared_error += d * d;                                                                                    \
        s.squares_a += x * x;                                                                                        \
        s.squares_b += y * y;                                                                                        \
        s.products += x * y;                                                                                         \
        s.peak = ad > s.peak ? ad : s.peak;                                                                          \
        s.differing += d != 0;                                                                                       \
        s.beyond += ad > atol + rtol * (y < 0 ? -y : y);                                                             \
    }                                                                                                                \
    *out = s;

#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#endif

// Eight values as f64 lanes (macros rather than functions: a vector return between functions
// compiled for different targets would change the ABI).
#define load8_f32(p)                                                                                                 \
    ({                                                                                                               \
        lanes_f f_;                                                                                                  \
        __builtin_memcpy(&f_, (p), sizeof f_);                                                                       \
        __builtin_convertvector(f_, lanes_d);                                                                        \
    })
#define load8_f64(p)                                                                                                 \
    ({                                                                                                               \
        lanes_d d_;                                                                                                  \
        __builtin_memcpy(&d_, (p), sizeof d_);                                                                       \
        d_;                                                                                                          \
    })

#define VARIANTS(T, SUFFIX, LOAD8)                                                                                   \
    static void compare_generic_##SUFFIX(const T *a, const T *b, int64_t n, double atol, double rtol,                \
                                         kiln_compare_sums *out) {                                                   \
        BODY(LOAD8)                                                                                                  \
    }                                                                                                                \
    X86_VARIANTS(T, SUFFIX, LOAD8)                                                                                   \
    void kiln_compare_##SUFFIX(const T *a, const T *b, int64_t n, double atol, double rtol, kiln_compare_sums *out) { \
        X86_DISPATCH(SUFFIX)                                                                                         \
        compare_generic_##SUFFIX(a, b, n, atol, rtol, out);                                                          \
    }

#if defined(__x86_64__)
#define X86_VARIANTS(T, SUFFIX, LOAD8)                                                                               \
    __attribute__((target("avx2"))) static void compare_avx2_##SUFFIX(const T *a, const T *b, int64_t n, double atol, \
                                                                       double rtol, kiln_compare_sums *out) {        \
        BODY(LOAD8)                                                                                                  \
    }                                                                                                                \
    __attribute__((target("avx512f,avx512dq,avx512vl"))) static void compare_avx512_##SUFFIX(                        \
        const T *a, const T *b, int64_t n, double atol, double rtol, kiln_compare_sums *out) {                       \
        BODY(LOAD8)                                                                                                  \
    }
#define X86_DISPATCH(SUFFIX)                                                                                         \
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {                                   \
        compare_avx512_##SUFFIX(a, b, n, atol, rtol, out);                                                           \
        return;                                                                                                      \
    }                                                                                                                \
    if (__builtin_cpu_supports("avx2")) {                                                                            \
        compare_avx2_##SUFFIX(a, b, n, atol, rtol, out);                                                             \
        return;                                                                                                      \
    }
#else
#define X86_VARIANTS(T, SUFFIX, LOAD8)
#define X86_DISPATCH(SUFFIX)
#endif

VARIANTS(float, f32, load8_f32)
VARIANTS(double, f64, load8_f64)
