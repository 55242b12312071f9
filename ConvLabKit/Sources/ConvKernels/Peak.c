// The machine's arithmetic peak on one core, measured rather than assumed from a clock: a loop
// of independent fused multiply-adds on whole vectors of the chosen instruction set.
#include "ConvKernels.h"
#include <time.h>

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// Keeps the compiler from folding the loop: an empty asm that "changes" the registers (x86 only).
#if defined(__x86_64__)
#define PEAK_BARRIER __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]));
#else
#define PEAK_BARRIER
#endif

// 12 chains: enough to cover an FMA's latency (4 cycles) on two pipes.
#define PEAK_LOOP(VW)                                                                                 \
    typedef float vec __attribute__((vector_size(VW * 4)));                                           \
    vec a[12], x = (vec){0} + 1.0000001f, y = (vec){0} + 0.9999999f;                                  \
    for (int i = 0; i < 12; i++) a[i] = (vec){0} + (float)i;                                          \
    long iterations = 0;                                                                              \
    const double start = seconds_now();                                                               \
    double elapsed = 0;                                                                               \
    do {                                                                                              \
        for (int r = 0; r < 4096; r++) {                                                              \
            for (int i = 0; i < 12; i++) a[i] = a[i] * x + y;                                         \
            PEAK_BARRIER                                                                              \
        }                                                                                             \
        iterations += 4096;                                                                           \
        elapsed = seconds_now() - start;                                                              \
    } while (elapsed < seconds);                                                                      \
    float sink = 0;                                                                                   \
    for (int i = 0; i < 12; i++) sink += a[i][0];                                                     \
    volatile float keep = sink;                                                                       \
    (void)keep;                                                                                       \
    return (double)iterations * 12.0 * VW * 2.0 / elapsed / 1e9;

static double peak_generic(double seconds) { PEAK_LOOP(4) }

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static double peak_avx2(double seconds) { PEAK_LOOP(8) }
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) static double peak_avx512(double seconds) { PEAK_LOOP(16) }
#endif

double convlab_peak_gflops(convlab_isa isa, double seconds) {
    isa = isa > convlab_cpu_isa() ? convlab_cpu_isa() : isa;
    switch (isa) {
#if defined(__x86_64__)
    case convlab_isa_avx512: return peak_avx512(seconds);
    case convlab_isa_avx2: return peak_avx2(seconds);
#endif
    default: return peak_generic(seconds);
    }
}
