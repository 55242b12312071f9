// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). openblas_set_num_threads lets the
// engine own the threading: it splits a batch across cores itself.
#include <cblas.h>

// Whether this CPU runs AVX2 and FMA code: OpenBLAS 0.3.21 does not recognise some newer
// Xeon models and falls back to its SSE3 ("Prescott") kernels, at a third of the speed.
static inline int convlab_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

// Whether this CPU (and the OS, which must save the ZMM registers) runs the AVX-512 F/BW/DQ/VL
// code of OpenBLAS's SkylakeX kernels. OpenBLAS 0.3.21 does not know AMD's Zen 4 and Zen 5 and
// gives them its AVX2 (Haswell) kernels, at two thirds of the speed on LeNet-5 (Zen 5).
static inline int convlab_cpu_has_avx512_skx(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
