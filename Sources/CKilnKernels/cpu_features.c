// What this CPU and OS can run, probed once: cpuid + XGETBV on x86-64 (the OS must save YMM
// state, which cpuid alone does not say), getauxval hwcaps on Linux arm64, sysctlbyname on Apple.
#include "kiln_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint32_t probe(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6) return 0; // XMM and YMM state enabled by the OS
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    if (!((ebx >> 5) & 1)) return 0;
    uint32_t features = KILN_CPU_AVX2;
    // AVX-512 F (ebx 16), DQ (17), BW (30), VL (31) and VNNI (ecx 11), with the OS saving the
    // opmask and ZMM registers (XCR0 bits 5–7).
    const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((ebx & avx512) == avx512 && ((ecx >> 11) & 1) && (xcr0_lo & 0xE0) == 0xE0) {
        features |= KILN_CPU_AVX512;
        // VBMI (ecx 1) and GFNI (ecx 8): Ice Lake, Sapphire Rapids, Zen 4 on; not Skylake-X,
        // Cascade Lake or Cannon Lake (VBMI without GFNI).
        if (((ecx >> 1) & 1) && ((ecx >> 8) & 1)) features |= KILN_CPU_AVX512_VBMI;
    }
    // AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4.
    if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && ((eax >> 4) & 1)) features |= KILN_CPU_AVX_VNNI;
    return features;
}

#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>

static uint32_t probe(void) {
    int value = 0;
    size_t size = sizeof value;
    uint32_t features = KILN_CPU_NEON;
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && value) features |= KILN_CPU_DOTPROD;
    return features;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

static uint32_t probe(void) {
    uint32_t features = KILN_CPU_NEON;
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) features |= KILN_CPU_DOTPROD;
    return features;
}

#elif defined(__aarch64__)
static uint32_t probe(void) { return KILN_CPU_NEON; }

#else
static uint32_t probe(void) { return 0; }
#endif

uint32_t kiln_cpu_features(void) {
    static _Atomic uint32_t cached = 0xFFFFFFFFu;
    uint32_t value = cached;
    if (value == 0xFFFFFFFFu) {
        value = probe();
        cached = value;
    }
    return value;
}

const kiln_ops *kiln_ops_for_tier(int32_t tier) {
    const uint32_t features = kiln_cpu_features();
    switch (tier) {
    case KILN_TIER_PORTABLE: return &kiln_ops_generic;
#if defined(__x86_64__)
    case KILN_TIER_AVX2: return (features & KILN_CPU_AVX2) ? &kiln_ops_avx2 : NULL;
    case KILN_TIER_AVX_VNNI: return (features & KILN_CPU_AVX_VNNI) ? kiln_ops_avx_vnni() : NULL;
    case KILN_TIER_AVX512: return (features & KILN_CPU_AVX512) ? kiln_ops_avx512() : NULL;
    case KILN_TIER_AVX512_VBMI: return (features & KILN_CPU_AVX512_VBMI) ? kiln_ops_avx512_vbmi() : NULL;
#endif
#if defined(__aarch64__)
    case KILN_TIER_NEON: return (features & KILN_CPU_DOTPROD) ? &kiln_ops_neon_dotprod : &kiln_ops_neon;
#endif
    default: (void)features; return NULL;
    }
}
