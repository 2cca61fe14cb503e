/*
 * SHA-256, written from FIPS 180-4 (Secure Hash Standard), sections 4.1.2,
 * 4.2.2, 5.1.1, 5.3.3 and 6.2.
 *
 * Portable C11: input of any alignment, big-endian word loads assembled from
 * bytes, so the result does not depend on host byte order.
 */
#include "CKilnSupport.h"

#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4, 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu,
    0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u,
    0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u,
    0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u,
    0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u,
    0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u, 0x1e376c08u,
    0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu,
    0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static inline uint32_t rotr32(uint32_t x, unsigned r) {
    return (x >> r) | (x << (32u - r)); /* r is always in 1..31 here */
}

static inline uint32_t load_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr32((x), 2) ^ rotr32((x), 13) ^ rotr32((x), 22))
#define BSIG1(x) (rotr32((x), 6) ^ rotr32((x), 11) ^ rotr32((x), 25))
#define SSIG0(x) (rotr32((x), 7) ^ rotr32((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr32((x), 17) ^ rotr32((x), 19) ^ ((x) >> 10))

/* One round; the caller rotates the roles of a..h instead of moving data. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                      \
    do {                                                                      \
        uint32_t t1_ = (h) + BSIG1(e) + CH((e), (f), (g)) + K[i] + W[i];      \
        uint32_t t2_ = BSIG0(a) + MAJ((a), (b), (c));                         \
        (d) += t1_;                                                           \
        (h) = t1_ + t2_;                                                      \
    } while (0)

/* Process `n` consecutive 64-byte blocks. */
static void compress(uint32_t state[8], const unsigned char *p, size_t n) {
    uint32_t W[64];
    while (n--) {
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        int i;

        for (i = 0; i < 16; i++)
            W[i] = load_be32(p + 4 * i);
        for (i = 16; i < 64; i++)
            W[i] = SSIG1(W[i - 2]) + W[i - 7] + SSIG0(W[i - 15]) + W[i - 16];

        for (i = 0; i < 64; i += 8) {
            ROUND(a, b, c, d, e, f, g, h, i + 0);
            ROUND(h, a, b, c, d, e, f, g, i + 1);
            ROUND(g, h, a, b, c, d, e, f, i + 2);
            ROUND(f, g, h, a, b, c, d, e, i + 3);
            ROUND(e, f, g, h, a, b, c, d, i + 4);
            ROUND(d, e, f, g, h, a, b, c, i + 5);
            ROUND(c, d, e, f, g, h, a, b, i + 6);
            ROUND(b, c, d, e, f, g, h, a, i + 7);
        }

        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
        p += 64;
    }
}

void kiln_sha256_init(kiln_sha256_state *s) {
    /* FIPS 180-4, 5.3.3 */
    s->h_[0] = 0x6a09e667u;
    s->h_[1] = 0xbb67ae85u;
    s->h_[2] = 0x3c6ef372u;
    s->h_[3] = 0xa54ff53au;
    s->h_[4] = 0x510e527fu;
    s->h_[5] = 0x9b05688cu;
    s->h_[6] = 0x1f83d9abu;
    s->h_[7] = 0x5be0cd19u;
    s->total_ = 0;
    s->buflen_ = 0;
    memset(s->buf_, 0, sizeof s->buf_);
}

void kiln_sha256_update(kiln_sha256_state *s, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    size_t used = s->buflen_;
    size_t n;

    if (len == 0)
        return;
    s->total_ += (uint64_t)len;

    if (len < 64 - used) { /* still no full block */
        memcpy(s->buf_ + used, p, len);
        s->buflen_ = (uint32_t)(used + len);
        return;
    }
    if (used) { /* complete the buffered block */
        size_t fill = 64 - used;
        memcpy(s->buf_ + used, p, fill);
        p += fill;
        len -= fill;
        compress(s->h_, s->buf_, 1);
    }
    n = len / 64;
    compress(s->h_, p, n);
    p += n * 64;
    len -= n * 64;
    if (len)
        memcpy(s->buf_, p, len);
    s->buflen_ = (uint32_t)len;
}

void kiln_sha256_final(kiln_sha256_state *s, uint8_t out[32]) {
    /* FIPS 180-4, 5.1.1: append 0x80, zeros, then the 64-bit big-endian
     * message length in bits. */
    uint64_t bits = s->total_ * 8u;
    size_t used = s->buflen_;
    int i;

    s->buf_[used++] = 0x80;
    if (used > 56) {
        memset(s->buf_ + used, 0, 64 - used);
        compress(s->h_, s->buf_, 1);
        used = 0;
    }
    memset(s->buf_ + used, 0, 56 - used);
    store_be32(s->buf_ + 56, (uint32_t)(bits >> 32));
    store_be32(s->buf_ + 60, (uint32_t)bits);
    compress(s->h_, s->buf_, 1);

    for (i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h_[i]);

    /* Don't leave message material lying around in the state. */
    memset(s, 0, sizeof *s);
}
