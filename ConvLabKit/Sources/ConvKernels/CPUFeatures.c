// Which of the kernels' instruction sets this CPU runs, and the CONVLAB_KERNELS override.
#include "ConvKernels.h"
#include <stdlib.h>
#include <string.h>

convlab_isa convlab_cpu_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return convlab_isa_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return convlab_isa_avx2;
#endif
    return convlab_isa_generic;
}

convlab_isa convlab_kernel_isa(void) {
    const convlab_isa best = convlab_cpu_isa();
    const char *name = getenv("CONVLAB_KERNELS");
    if (name == NULL) return best;
    convlab_isa wanted = best;
    if (strcmp(name, "generic") == 0) wanted = convlab_isa_generic;
    else if (strcmp(name, "avx2") == 0) wanted = convlab_isa_avx2;
    else if (strcmp(name, "avx512") == 0) wanted = convlab_isa_avx512;
    return wanted < best ? wanted : best;
}
