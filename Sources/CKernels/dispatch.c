// CPU-feature detection and the choice of kernel variants, made once at start-up.
#include "CKernels.h"
#include "internal.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

static tl_isa detected = TL_ISA_PORTABLE;
/// The variant this thread uses: -1 for the detected one. Per thread, so that a model (or a
/// test) that asks for a variant affects only the threads doing its work.
static _Thread_local int thread_isa = -1;

__attribute__((constructor)) static void tl_init_dispatch(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        detected = TL_ISA_AVX512VNNI;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        detected = TL_ISA_AVX2;
    }
#elif defined(__aarch64__)
    detected = TL_ISA_NEON;
    int dotprod = 0;
#if defined(__linux__)
    dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int value = 0;
    size_t size = sizeof value;
    dotprod = sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && value != 0;
#endif
    if (dotprod) detected = TL_ISA_NEON_DOTPROD;
#endif
}

tl_isa tl_detect_isa(void) { return detected; }
tl_isa tl_active_isa(void) { return thread_isa >= 0 ? (tl_isa)thread_isa : detected; }

int tl_isa_supported(tl_isa isa) {
    switch (isa) {
    case TL_ISA_PORTABLE: return 1;
    case TL_ISA_AVX2: return detected == TL_ISA_AVX2 || detected == TL_ISA_AVX512VNNI;
    case TL_ISA_AVX512VNNI: return detected == TL_ISA_AVX512VNNI;
    case TL_ISA_NEON: return detected == TL_ISA_NEON || detected == TL_ISA_NEON_DOTPROD;
    case TL_ISA_NEON_DOTPROD: return detected == TL_ISA_NEON_DOTPROD;
    }
    return 0;
}

tl_isa tl_force_isa(tl_isa isa) {
    tl_isa chosen = tl_isa_supported(isa) ? isa : TL_ISA_PORTABLE;
    thread_isa = (int)chosen;
    return chosen;
}

const char *tl_isa_name(tl_isa isa) {
    switch (isa) {
    case TL_ISA_AVX512VNNI: return "avx512-vnni";
    case TL_ISA_AVX2: return "avx2";
    case TL_ISA_NEON: return "neon";
    case TL_ISA_NEON_DOTPROD: return "neon-dotprod";
    default: return "portable";
    }
}

void tl_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#if TL_X86

// Reads the way the decoding kernels do (software prefetch 16 KiB ahead into L2, 1 KiB
// into L1), so the probe is a bound for them rather than for a plain loop.
TL_TARGET_AVX512 static uint64_t read_sum_avx512(const void *data, size_t n) {
    const char *p = (const char *)data;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i + 256 <= n; i += 256) {
        for (int k = 0; k < 4; k++) _mm_prefetch(p + i + 16384 + 64 * k, _MM_HINT_T1);
        for (int k = 0; k < 4; k++) _mm_prefetch(p + i + 1024 + 64 * k, _MM_HINT_T0);
        a = _mm512_add_epi64(a, _mm512_loadu_si512((const void *)(p + i)));
        b = _mm512_add_epi64(b, _mm512_loadu_si512((const void *)(p + i + 64)));
        c = _mm512_add_epi64(c, _mm512_loadu_si512((const void *)(p + i + 128)));
        d = _mm512_add_epi64(d, _mm512_loadu_si512((const void *)(p + i + 192)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}

#endif

static uint64_t read_sum_portable(const void *data, size_t n) {
    const uint64_t *p = (const uint64_t *)data;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= n / 8; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
    return s0 + s1 + s2 + s3;
}

uint64_t tl_read_sum(const void *data, size_t n) {
#if TL_X86
    if (TL_USES_AVX512()) return read_sum_avx512(data, n);
#endif
    return read_sum_portable(data, n);
}
