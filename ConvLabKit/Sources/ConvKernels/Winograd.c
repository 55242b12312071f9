// Winograd F(2×2, 3×3) convolution: the plan (block sizes and strides), the weight transforms,
// and the dispatch to the kernel compiled for the chosen instruction set (WinogradBody.h).
#include "ConvKernels.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct {
    int channels, height, width, filters, pad;
    int outputHeight, outputWidth;
    int tilesY, tilesX;
    int filtersRounded;   // K rounded up to the forward kernel's 4 filters per pass
    int halfStride;       // floats of the even (or odd) columns of a padded row: the tiles, one
                          // more column, and whole-vector reads past them
    size_t lineCount;     // floats of the scratch row a padded row is built in before it is split
    int imagesPerBlock;   // a block is whole images when they are small,
    int rowsPerBlock;     // else a band of this many tile rows of one image
    int bufferRows;       // padded input rows per plane of a block: 2·rowsPerBlock + 2
    size_t paddedCount;   // floats of a block's padded input (images, C, bufferRows, rowStride)
    int ld;               // floats between two rows of V, M and D: a block's tiles plus slack
    // Floats from one ξ to the next in V (16, C, ld), M (16, K4, ld) and D (16, K, ld): one cache
    // line more than the rows, so that the 16 vectors a transform reads or writes for one tile
    // do not all fall into the same L1 set (at 4 KiB multiples they would evict each other).
    size_t vStride, mStride, dStride;
} winograd_plan;

typedef struct { int firstImage, images, firstTileRow, tileRows; } winograd_block;

// Tiles per block. Forward (and input error): V and M of a block (16 × (C + K) × tiles floats)
// stay in the L2 cache between the input transform, the products and the output transform.
// Weight gradient: each block ends by storing, and the next begins by loading, a vector of
// partial sums per (ξ, c, k) (16·C·K vectors: 1 MiB for C = K = 32), so larger blocks pay:
// on Zen 4, deep.json's three Winograd layers took 18–31 % less time at 768 tiles than at 128,
// while the forward pass was fastest at 128 (min of 30 interleaved rounds, batch 64).
enum { forward_block_tiles = 128, gradient_block_tiles = 768, widest_vector = 16 };

static winograd_plan make_plan(convlab_winograd_geometry g, int target_block_tiles) {
    winograd_plan p;
    p.channels = g.channels; p.height = g.height; p.width = g.width; p.filters = g.filters; p.pad = g.pad;
    p.outputHeight = g.height + 2 * g.pad - 2;
    p.outputWidth = g.width + 2 * g.pad - 2;
    p.tilesY = (p.outputHeight + 1) / 2;
    p.tilesX = (p.outputWidth + 1) / 2;
    p.filtersRounded = (g.filters + 3) / 4 * 4;
    p.halfStride = (p.tilesX + 1 + widest_vector - 1) / widest_vector * widest_vector + widest_vector;
    p.lineCount = 2 * (size_t)p.halfStride + 2 * widest_vector;
    const int imageTiles = p.tilesY * p.tilesX;
    if (imageTiles <= 2 * target_block_tiles) {
        p.imagesPerBlock = (target_block_tiles + imageTiles - 1) / (imageTiles > 0 ? imageTiles : 1);
        p.rowsPerBlock = p.tilesY;
    } else {
        p.imagesPerBlock = 1;
        p.rowsPerBlock = p.tilesX >= target_block_tiles ? 1 : target_block_tiles / p.tilesX;
    }
    p.bufferRows = 2 * p.rowsPerBlock + 2;
    p.paddedCount = (size_t)p.imagesPerBlock * (size_t)p.channels * (size_t)p.bufferRows * 2 * (size_t)p.halfStride;
    const int tiles = p.imagesPerBlock * p.rowsPerBlock * p.tilesX;
    p.ld = (tiles + widest_vector - 1) / widest_vector * widest_vector + 2 * widest_vector;
    p.vStride = (size_t)p.channels * (size_t)p.ld + widest_vector;
    p.mStride = (size_t)p.filtersRounded * (size_t)p.ld + widest_vector;
    p.dStride = (size_t)p.filters * (size_t)p.ld + widest_vector;
    return p;
}

size_t convlab_winograd_weights_count(convlab_winograd_geometry g) {
    return 16 * (size_t)g.channels * (size_t)((g.filters + 3) / 4 * 4);
}

size_t convlab_winograd_forward_scratch_count(convlab_winograd_geometry g) {
    winograd_plan p = make_plan(g, forward_block_tiles);
    // V, M, the scratch row, the padded input
    return 16 * (p.vStride + p.mStride) + p.lineCount + p.paddedCount;
}

size_t convlab_winograd_weight_gradient_scratch_count(convlab_winograd_geometry g) {
    winograd_plan p = make_plan(g, gradient_block_tiles);
    // V, D, the scratch row, the padded input, the partial sums per lane (16, C, K, 16), dU (16, C, K)
    return 16 * (p.vStride + p.dStride) + p.lineCount + p.paddedCount
        + 16 * (size_t)p.channels * (size_t)p.filters * (widest_vector + 1);
}

// U = G·g·Gᵀ for one 3×3 kernel g, into u[ξ·stride] for ξ = 4·i + j.
static void transform_kernel(const float g[9], float *u, size_t stride) {
    float t[4][3];   // G·g
    for (int b = 0; b < 3; b++) {
        const float g0 = g[b], g1 = g[3 + b], g2 = g[6 + b];
        t[0][b] = g0;
        t[1][b] = 0.5f * (g0 + g1 + g2);
        t[2][b] = 0.5f * (g0 - g1 + g2);
        t[3][b] = g2;
    }
    for (int i = 0; i < 4; i++) {
        const float h0 = t[i][0], h1 = t[i][1], h2 = t[i][2];
        u[(size_t)(4 * i + 0) * stride] = h0;
        u[(size_t)(4 * i + 1) * stride] = 0.5f * (h0 + h1 + h2);
        u[(size_t)(4 * i + 2) * stride] = 0.5f * (h0 - h1 + h2);
        u[(size_t)(4 * i + 3) * stride] = h2;
    }
}

void convlab_winograd_transform_weights(convlab_winograd_geometry g, const float *weights, int rotate, float *transformed) {
    // The pass's channels and filters: swapped for the input error.
    const int C = rotate ? g.filters : g.channels, K = rotate ? g.channels : g.filters;
    const int K4 = (K + 3) / 4 * 4;
    const size_t xiStride = (size_t)C * (size_t)K4;
    memset(transformed, 0, sizeof(float) * 16 * xiStride);
    for (int k = 0; k < K; k++) {
        for (int c = 0; c < C; c++) {
            float kernel[9];
            if (rotate) {   // w'[k][c] = rot180(w[c][k]) of the forward weights (filters c, channels k)
                const float *w = weights + ((size_t)c * (size_t)g.channels + (size_t)k) * 9;
                for (int e = 0; e < 9; e++) kernel[e] = w[8 - e];
            } else {
                memcpy(kernel, weights + ((size_t)k * (size_t)C + (size_t)c) * 9, sizeof kernel);
            }
            transform_kernel(kernel, transformed + (size_t)c * (size_t)K4 + (size_t)k, xiStride);
        }
    }
}

// dW[k][c] = Gᵀ·dU[·][c][k]·G, with Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]].
static void finish_weight_gradient(const winograd_plan *p, const float *du, float *weightGradient) {
    const int C = p->channels, K = p->filters;
    const size_t xiStride = (size_t)C * (size_t)K;
    for (int k = 0; k < K; k++) {
        for (int c = 0; c < C; c++) {
            float m[4][4], t[3][4];
            for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = du[(size_t)xi * xiStride + (size_t)c * (size_t)K + (size_t)k];
            for (int j = 0; j < 4; j++) {
                t[0][j] = m[0][j] + 0.5f * (m[1][j] + m[2][j]);
                t[1][j] = 0.5f * (m[1][j] - m[2][j]);
                t[2][j] = 0.5f * (m[1][j] + m[2][j]) + m[3][j];
            }
            float *w = weightGradient + ((size_t)k * (size_t)C + (size_t)c) * 9;
            for (int a = 0; a < 3; a++) {
                w[3 * a + 0] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                w[3 * a + 1] = 0.5f * (t[a][1] - t[a][2]);
                w[3 * a + 2] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
    }
}

// The kernels, once per instruction set.
#define KERNEL_BODY "WinogradBody.h"
#include "EachInstructionSet.h"

void convlab_winograd_forward(convlab_isa isa, convlab_winograd_geometry g, const float *input, int batch,
                              const float *transformed, const float *bias, float *output, float *scratch) {
    winograd_plan p = make_plan(g, forward_block_tiles);
    if (batch <= 0 || p.outputHeight <= 0 || p.outputWidth <= 0) return;
    isa = isa > convlab_cpu_isa() ? convlab_cpu_isa() : isa;
    switch (isa) {
#if defined(__x86_64__)
    case convlab_isa_avx512: forward_avx512(&p, input, batch, transformed, bias, output, scratch); break;
    case convlab_isa_avx2: forward_avx2(&p, input, batch, transformed, bias, output, scratch); break;
#endif
    default: forward_generic(&p, input, batch, transformed, bias, output, scratch); break;
    }
}

void convlab_winograd_weight_gradient(convlab_isa isa, convlab_winograd_geometry g, const float *input, const float *delta,
                                      int batch, float *weightGradient, float *scratch) {
    winograd_plan p = make_plan(g, gradient_block_tiles);
    float *du = scratch + 16 * (p.vStride + p.dStride) + p.lineCount + p.paddedCount
        + 16 * (size_t)p.channels * (size_t)p.filters * widest_vector;
    memset(du, 0, sizeof(float) * 16 * (size_t)p.channels * (size_t)p.filters);
    if (batch > 0 && p.outputHeight > 0 && p.outputWidth > 0) {
        isa = isa > convlab_cpu_isa() ? convlab_cpu_isa() : isa;
        switch (isa) {
#if defined(__x86_64__)
        case convlab_isa_avx512: weight_gradient_avx512(&p, input, delta, batch, du, scratch); break;
        case convlab_isa_avx2: weight_gradient_avx2(&p, input, delta, batch, du, scratch); break;
#endif
        default: weight_gradient_generic(&p, input, delta, batch, du, scratch); break;
        }
    }
    finish_weight_gradient(&p, du, weightGradient);
}
