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
