// Max pooling with stride 2 (2×2 windows without padding, 3×3 with padding 1, ...), vectors
// along the output row; compiled once per instruction set like WinogradBody.h.
//
// The same answer as the plain loops (ConvCore's PoolingKernels): scanning a window row by row,
// the first maximum wins (strict >); cells of the padding never win; a NaN wins over everything,
// the last one in scan order. Columns 2j − pad + b of output j are read as even or odd lanes of
// a row copied between −∞ borders.

#include "Vectors.h"

static void NAME(max_pool_stride2)(const convlab_pool_geometry *g, const float *input, int planes, float *output,
                                   int *argmax, float *lines) {
    const int H = g->height, W = g->width, Ho = g->outputHeight, Wo = g->outputWidth, pad = g->padX;
    const V minusInfinity = NAME(splat)(-__builtin_inff());
    IV lane;
    for (int l = 0; l < VW; l++) lane[l] = l;
    // One line per window row: −∞, the row at `pad`, −∞ to the end (the borders are written once).
    const size_t lineCount = convlab_pool_line_count(*g);
    for (size_t x = 0; x < lineCount * (size_t)g->windowHeight; x++) lines[x] = -__builtin_inff();
    for (int plane = 0; plane < planes; plane++) {
        const float *x = input + (size_t)plane * (size_t)H * (size_t)W;
        float *y = output + (size_t)plane * (size_t)Ho * (size_t)Wo;
        int *best = argmax + (size_t)plane * (size_t)Ho * (size_t)Wo;
        for (int i = 0; i < Ho; i++) {
            const int top = 2 * i - g->padY, firstRow = top < 0 ? 0 : top;
            const int lastRow = top + g->windowHeight > H ? H : top + g->windowHeight;
            for (int r = firstRow; r < lastRow; r++)
                NAME(copy)(lines + (size_t)(r - firstRow) * lineCount + pad, x + (size_t)r * (size_t)W, W);
            for (int j = 0; j < Wo; j += VW) {
                // The first cell of each window inside the input: where an all −∞ window points.
                const IV column0 = lane * 2 + (2 * j - pad);
                IV bestIndex = NAME(select_int)(column0 < 0, (IV){0}, column0) + firstRow * W;
                IV nanIndex = (IV){0} - 1;
                V bestValue = minusInfinity, nanValue = minusInfinity;
                for (int r = firstRow; r < lastRow; r++) {
                    const float *at = lines + (size_t)(r - firstRow) * lineCount + 2 * j;
                    for (int b = 0; b < g->windowWidth; b++) {
                        const int even = b & ~1;
                        const V a = NAME(load)(at + even), c = NAME(load)(at + even + VW);
                        const V value = (b & 1) ? ODDS(a, c) : EVENS(a, c);
                        const IV index = column0 + (r * W + b);
                        const IV wins = value > bestValue, isNaN = value != value;
                        bestValue = NAME(select)(wins, value, bestValue);
                        bestIndex = NAME(select_int)(wins, index, bestIndex);
                        nanValue = NAME(select)(isNaN, value, nanValue);
                        nanIndex = NAME(select_int)(isNaN, index, nanIndex);
                    }
                }
                const IV hasNaN = nanIndex >= 0;
                const int count = Wo - j;
                NAME(store_prefix)(y + (size_t)i * (size_t)Wo + (size_t)j, NAME(select)(hasNaN, nanValue, bestValue), count);
                NAME(store_prefix)((float *)(best + (size_t)i * (size_t)Wo + (size_t)j),
                                   (V)NAME(select_int)(hasNaN, nanIndex, bestIndex), count);
            }
        }
    }
}
