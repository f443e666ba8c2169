// CPU-feature detection and the choice of kernel variants, made once at start-up.
#include "CKernels.h"
#include "internal.h"

static tl_isa detected = TL_ISA_PORTABLE;
static tl_isa active = TL_ISA_PORTABLE;

__attribute__((constructor)) static void tl_init_dispatch(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        detected = TL_ISA_AVX512VNNI;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        detected = TL_ISA_AVX2;
    }
#endif
    active = detected;
}

tl_isa tl_detect_isa(void) { return detected; }
// Relaxed atomics: tests lower the variant while other threads run kernels.
tl_isa tl_active_isa(void) { return (tl_isa)__atomic_load_n((int *)&active, __ATOMIC_RELAXED); }

tl_isa tl_force_isa(tl_isa isa) {
    tl_isa chosen = isa > detected ? detected : isa;
    __atomic_store_n((int *)&active, (int)chosen, __ATOMIC_RELAXED);
    return chosen;
}

const char *tl_isa_name(tl_isa isa) {
    switch (isa) {
    case TL_ISA_AVX512VNNI: return "avx512-vnni";
    case TL_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}

void tl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
