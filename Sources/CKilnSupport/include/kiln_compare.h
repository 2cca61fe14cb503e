/*
 * The sums behind TensorComparison (KilnCore) for a run of f32 or f64 pairs, in f64: what `kiln diff`
 * and every quantiser's error report spend their time on (a tenth of a searched quantisation
 * when they were a Swift loop). Eight partial sums per quantity, combined at the end; an AVX-512
 * or AVX2 compilation chosen at run time where the CPU has it, the same arithmetic everywhere.
 */
#ifndef KILN_COMPARE_H
#define KILN_COMPARE_H

#include <stdint.h>

typedef struct {
    double abs, squared_error, squares_a, squares_b, products, peak;
    int64_t differing, beyond;
} kiln_compare_sums;

/* Σ|a − b|, Σ(a − b)², Σa², Σb², Σab and max |a − b| over n pairs, with the counts of pairs that
 * differ and of those beyond atol + rtol·|b|. Assumes finite inputs: a NaN or infinity shows in
 * the sums (then not finite), and the caller redoes that run element by element. */
void kiln_compare_f32(const float *a, const float *b, int64_t n, double atol, double rtol, kiln_compare_sums *out);
/* The same for f64 pairs: for pairs of f32 values widened to f64, exactly kiln_compare_f32's bits. */
void kiln_compare_f64(const double *a, const double *b, int64_t n, double atol, double rtol, kiln_compare_sums *out);

#endif
