// Max pooling with stride 2 in vectors (PoolingBody.h), once per instruction set.
#include "ConvKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

size_t convlab_pool_line_count(convlab_pool_geometry g) {
    const int widest = 16;
    return 2 * (size_t)((g.outputWidth + widest - 1) / widest * widest) + 2 * (size_t)widest + (size_t)g.windowWidth
        + (size_t)g.padX + (size_t)g.width;
}

#define KERNEL_BODY "PoolingBody.h"
#include "EachInstructionSet.h"

void convlab_max_pool_stride2(convlab_isa isa, convlab_pool_geometry g, const float *input, int planes, float *output,
                              int *argmax, float *scratch) {
    if (planes <= 0 || g.outputHeight <= 0 || g.outputWidth <= 0) return;
    isa = isa > convlab_cpu_isa() ? convlab_cpu_isa() : isa;
    switch (isa) {
#if defined(__x86_64__)
    case convlab_isa_avx512: max_pool_stride2_avx512(&g, input, planes, output, argmax, scratch); break;
    case convlab_isa_avx2: max_pool_stride2_avx2(&g, input, planes, output, argmax, scratch); break;
#endif
    default: max_pool_stride2_generic(&g, input, planes, output, argmax, scratch); break;
    }
}
