// The Winograd F(2×2, 3×3) kernels, written once and compiled once per instruction set:
// Winograd.c includes this file with VW (floats per vector) and SUFFIX defined, inside a
// `#pragma clang attribute` that gives every function the set's target features.
//
// Lavin & Gray (2016): a 2×2 output tile of a 3×3 correlation from a 4×4 input tile d is
//     Y = Aᵀ · [(G·g·Gᵀ) ⊙ (Bᵀ·d·B)] · A
// with 16 multiplications instead of 36. Summed over channels, the 16 products become 16
// independent matrix products M[ξ] = U[ξ]ᵀ·V[ξ] (K×C times C×tiles), which is where the time goes.
//
//     Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
//          | 0  1  1  0 |         | ½    ½    ½  |          | 0  1 −1 −1 |
//          | 0 −1  1  0 |         | ½   −½    ½  |
//          | 0  1  0 −1 |         | 0    0    1  |
//
// Tiles are numbered along output rows, image after image; vectors run along tiles, so every
// transform is a handful of vector additions on contiguous data.

#include "Vectors.h"

// The transforms run along a tile row, so a row of few tiles fills only part of a 16-float
// vector: there the AVX-512 kernel calls the 8-float (AVX2) transforms, which waste less.
#if ISA == 2
#define TRANSFORM(name) ((plan->tilesX + 7) / 8 * 8 < (plan->tilesX + 15) / 16 * 16 ? CAT(name, avx2) : NAME(name))
#else
#define TRANSFORM(name) NAME(name)
#endif

// The block's input rows, zero-padded and split into even and odd columns:
// (images, C, bufferRows, [E | O]), E[x] = padded[2x], O[x] = padded[2x + 1], where row i of a
// plane holds input row 2·firstTileRow − pad + i. Tile tx then reads E[tx], O[tx], E[tx+1],
// O[tx+1]: whole vectors, no shuffles in the transform. `line` is a zero-bordered scratch row
// (the caller zeroed it once; only its interior is ever written).
static void NAME(pad_block)(const winograd_plan *plan, const winograd_block *block, const float *input, float *padded,
                            float *line) {
    const int C = plan->channels, H = plan->height, W = plan->width, half = plan->halfStride;
    const int rows = 2 * block->tileRows + 2;
    for (int image = 0; image < block->images; image++) {
        for (int c = 0; c < C; c++) {
            const float *plane = input + ((size_t)(block->firstImage + image) * (size_t)C + (size_t)c) * (size_t)H * (size_t)W;
            float *target = padded + ((size_t)image * (size_t)C + (size_t)c) * (size_t)plan->bufferRows * (size_t)(2 * half);
            for (int i = 0; i < rows; i++) {
                const int y = 2 * block->firstTileRow - plan->pad + i;
                float *even = target + (size_t)i * (size_t)(2 * half), *odd = even + half;
                if (y < 0 || y >= H) {
                    __builtin_memset(even, 0, sizeof(float) * (size_t)(2 * half));
                    continue;
                }
                NAME(copy)(line + plan->pad, plane + (size_t)y * (size_t)W, W);
                for (int x = 0; x < half; x += VW) {
                    const V a = NAME(load)(line + 2 * x), b = NAME(load)(line + 2 * x + VW);
                    NAME(store)(even + x, EVENS(a, b));
                    NAME(store)(odd + x, ODDS(a, b));
                }
            }
        }
    }
}

// V[ξ][c][t…] for the tiles of one tile row of one channel, from four padded rows (E | O):
//   columns of tile tx: d0 = E[tx], d1 = O[tx], d2 = E[tx+1], d3 = O[tx+1]
//   ·B    : u0 = d0 − d2, u1 = d1 + d2, u2 = d2 − d1, u3 = d1 − d3      (for each row)
//   Bᵀ·   : v0ⱼ = u0ⱼ − u2ⱼ, v1ⱼ = u1ⱼ + u2ⱼ, v2ⱼ = u2ⱼ − u1ⱼ, v3ⱼ = u1ⱼ − u3ⱼ  (rows 0…3)
// Stores whole vectors: lanes past the row's last tile land on the next row's tiles (written
// after this one) or in the block's slack.
static void NAME(input_transform_row)(const winograd_plan *plan, const float *rows, float *out, size_t xiStride) {
    const int half = plan->halfStride, rowStride = 2 * half;
    for (int t = 0; t < plan->tilesX; t += VW) {
        V u[4][4];
        for (int i = 0; i < 4; i++) {
            const float *even = rows + (size_t)i * (size_t)rowStride + t, *odd = even + half;
            const V d0 = NAME(load)(even), d1 = NAME(load)(odd), d2 = NAME(load)(even + 1), d3 = NAME(load)(odd + 1);
            u[i][0] = d0 - d2; u[i][1] = d1 + d2; u[i][2] = d2 - d1; u[i][3] = d1 - d3;
        }
        for (int j = 0; j < 4; j++) {
            float *o = out + (size_t)j * xiStride + (size_t)t;
            NAME(store)(o, u[0][j] - u[2][j]);
            NAME(store)(o + 4 * xiStride, u[1][j] + u[2][j]);
            NAME(store)(o + 8 * xiStride, u[2][j] - u[1][j]);
            NAME(store)(o + 12 * xiStride, u[1][j] - u[3][j]);
        }
    }
}

// V (16, C, ld) for every channel and tile of the block, from its padded rows.
static void NAME(input_transform_block)(const winograd_plan *plan, const winograd_block *block, const float *padded, float *v) {
    const int C = plan->channels;
    const size_t rowStride = 2 * (size_t)plan->halfStride;
    const size_t xiStride = plan->vStride;
    for (int image = 0; image < block->images; image++) {
        for (int r = 0; r < block->tileRows; r++) {
            const size_t firstTile = ((size_t)image * (size_t)block->tileRows + (size_t)r) * (size_t)plan->tilesX;
            for (int c = 0; c < C; c++) {
                const float *rows = padded + (((size_t)image * (size_t)C + (size_t)c) * (size_t)plan->bufferRows
                                              + (size_t)(2 * r)) * rowStride;
                NAME(input_transform_row)(plan, rows, v + (size_t)c * (size_t)plan->ld + firstTile, xiStride);
            }
        }
    }
}

// M[ξ][k][t] = Σ_c U[ξ][c][k]·V[ξ][c][t] for t < tiles (rounded up to VW): 4 filters × 2
// vectors of tiles per pass, each V load used 4 times, each U broadcast twice; a last pass of
// one vector when an odd number remains.
static void NAME(multiply_block)(const winograd_plan *plan, const float *u, const float *v, float *m, int tiles) {
    const int C = plan->channels, K4 = plan->filtersRounded;
    const size_t ld = (size_t)plan->ld;
    const int rounded = (tiles + VW - 1) / VW * VW;
    for (int xi = 0; xi < 16; xi++) {
        const float *uxi = u + (size_t)xi * (size_t)C * (size_t)K4;
        const float *vxi = v + (size_t)xi * plan->vStride;
        float *mxi = m + (size_t)xi * plan->mStride;
        for (int k = 0; k < K4; k += 4) {
            int t = 0;
            for (; t + 2 * VW <= rounded; t += 2 * VW) {
                V s00 = {0}, s01 = {0}, s10 = {0}, s11 = {0}, s20 = {0}, s21 = {0}, s30 = {0}, s31 = {0};
                const float *vp = vxi + t, *up = uxi + k;
                for (int c = 0; c < C; c++, vp += ld, up += K4) {
                    V x0 = NAME(load)(vp), x1 = NAME(load)(vp + VW);
                    V w0 = NAME(splat)(up[0]), w1 = NAME(splat)(up[1]), w2 = NAME(splat)(up[2]), w3 = NAME(splat)(up[3]);
                    s00 += w0 * x0; s01 += w0 * x1;
                    s10 += w1 * x0; s11 += w1 * x1;
                    s20 += w2 * x0; s21 += w2 * x1;
                    s30 += w3 * x0; s31 += w3 * x1;
                }
                float *mp = mxi + (size_t)k * ld + (size_t)t;
                NAME(store)(mp, s00); NAME(store)(mp + VW, s01);
                NAME(store)(mp + ld, s10); NAME(store)(mp + ld + VW, s11);
                NAME(store)(mp + 2 * ld, s20); NAME(store)(mp + 2 * ld + VW, s21);
                NAME(store)(mp + 3 * ld, s30); NAME(store)(mp + 3 * ld + VW, s31);
            }
            if (t < rounded) {
                V s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
                const float *vp = vxi + t, *up = uxi + k;
                for (int c = 0; c < C; c++, vp += ld, up += K4) {
                    V x0 = NAME(load)(vp);
                    s0 += NAME(splat)(up[0]) * x0; s1 += NAME(splat)(up[1]) * x0;
                    s2 += NAME(splat)(up[2]) * x0; s3 += NAME(splat)(up[3]) * x0;
                }
                float *mp = mxi + (size_t)k * ld + (size_t)t;
                NAME(store)(mp, s0); NAME(store)(mp + ld, s1); NAME(store)(mp + 2 * ld, s2); NAME(store)(mp + 3 * ld, s3);
            }
        }
    }
}

// y = Aᵀ·M·A + b for the tiles of the block, written into the output planes:
//   Aᵀ·M : q0ⱼ = m0ⱼ + m1ⱼ + m2ⱼ,  q1ⱼ = m1ⱼ − m2ⱼ − m3ⱼ
//   ·A   : yᵢ0 = qᵢ0 + qᵢ1 + qᵢ2,   yᵢ1 = qᵢ1 − qᵢ2 − qᵢ3
static void NAME(output_transform_block)(const winograd_plan *plan, const winograd_block *block, const float *m,
                                         const float *bias, float *output) {
    const int K = plan->filters, K4 = plan->filtersRounded, Ho = plan->outputHeight, Wo = plan->outputWidth;
    const size_t ld = (size_t)plan->ld, xiStride = plan->mStride;
    for (int image = 0; image < block->images; image++) {
        for (int r = 0; r < block->tileRows; r++) {
            const size_t firstTile = ((size_t)image * (size_t)block->tileRows + (size_t)r) * (size_t)plan->tilesX;
            const int y0 = 2 * (block->firstTileRow + r);
            for (int k = 0; k < K; k++) {
                const V b = NAME(splat)(bias ? bias[k] : 0.0f);
                float *plane = output + ((size_t)(block->firstImage + image) * (size_t)K + (size_t)k) * (size_t)Ho * (size_t)Wo;
                const float *mk = m + (size_t)k * ld + firstTile;
                for (int tx = 0; tx < plan->tilesX; tx += VW) {
                    V mm[16];
                    for (int xi = 0; xi < 16; xi++) mm[xi] = NAME(load)(mk + (size_t)xi * xiStride + (size_t)tx);
                    V q[2][4];
                    for (int j = 0; j < 4; j++) {
                        q[0][j] = mm[j] + mm[4 + j] + mm[8 + j];
                        q[1][j] = mm[4 + j] - mm[8 + j] - mm[12 + j];
                    }
                    const int x0 = 2 * tx, width = Wo - x0;
                    for (int i = 0; i < 2 && y0 + i < Ho; i++) {
                        V even = q[i][0] + q[i][1] + q[i][2] + b;
                        V odd = q[i][1] - q[i][2] - q[i][3] + b;
                        float *row = plane + (size_t)(y0 + i) * (size_t)Wo + (size_t)x0;
                        NAME(store_prefix)(row, ZIP_LOW(even, odd), width);
                        NAME(store_prefix)(row + VW, ZIP_HIGH(even, odd), width - VW);
                    }
                }
            }
        }
    }
}

// The blocks of a batch, in order: whole images when they are small, else bands of tile rows.
static int NAME(next_block)(const winograd_plan *plan, int batch, winograd_block *block) {
    block->firstTileRow += block->tileRows;
    if (block->firstTileRow >= plan->tilesY) {
        block->firstTileRow = 0;
        block->firstImage += block->images;
    }
    if (block->firstImage >= batch) return 0;
    block->images = batch - block->firstImage < plan->imagesPerBlock ? batch - block->firstImage : plan->imagesPerBlock;
    block->tileRows = plan->tilesY - block->firstTileRow < plan->rowsPerBlock ? plan->tilesY - block->firstTileRow : plan->rowsPerBlock;
    return 1;
}

static void NAME(forward)(const winograd_plan *plan, const float *input, int batch, const float *u, const float *bias,
                          float *output, float *scratch) {
    float *v = scratch;
    float *m = v + 16 * plan->vStride;
    float *line = m + 16 * plan->mStride;
    float *padded = line + plan->lineCount;
    __builtin_memset(line, 0, sizeof(float) * plan->lineCount);
    winograd_block block = {0, 0, 0, 0};
    while (NAME(next_block)(plan, batch, &block)) {
        TRANSFORM(pad_block)(plan, &block, input, padded, line);
        TRANSFORM(input_transform_block)(plan, &block, padded, v);
        NAME(multiply_block)(plan, u, v, m, block.images * block.tileRows * plan->tilesX);
        TRANSFORM(output_transform_block)(plan, &block, m, bias, output);
    }
}

// D[ξ][k][t] = (A·δ·Aᵀ)[ξ] for the tiles of the block, A = (Aᵀ)ᵀ:
//   A·δ  : e0 = δ0, e1 = δ0 + δ1, e2 = δ0 − δ1, e3 = −δ1        (δ0, δ1: the tile's two rows)
//   ·Aᵀ  : for each eᵢ and tile x0 = 2·tx: eᵢ[x0], eᵢ[x0] + eᵢ[x0+1], eᵢ[x0] − eᵢ[x0+1], −eᵢ[x0+1]
// δ is read in place, with masked loads past its last row and column.
static void NAME(delta_transform_block)(const winograd_plan *plan, const winograd_block *block, const float *delta, float *d) {
    const int K = plan->filters, Ho = plan->outputHeight, Wo = plan->outputWidth;
    const size_t ld = (size_t)plan->ld, xiStride = plan->dStride;
    for (int image = 0; image < block->images; image++) {
        for (int r = 0; r < block->tileRows; r++) {
            const size_t firstTile = ((size_t)image * (size_t)block->tileRows + (size_t)r) * (size_t)plan->tilesX;
            const int y0 = 2 * (block->firstTileRow + r);
            for (int k = 0; k < K; k++) {
                const float *plane = delta + ((size_t)(block->firstImage + image) * (size_t)K + (size_t)k) * (size_t)Ho * (size_t)Wo;
                const float *row0 = plane + (size_t)y0 * (size_t)Wo;
                const int hasRow1 = y0 + 1 < Ho;
                float *o = d + (size_t)k * ld + firstTile;
                for (int x = 0, t = 0; x < 2 * plan->tilesX; x += 2 * VW, t += VW) {
                    const int width = Wo - x;
                    V a0 = NAME(load_prefix)(row0 + x, width), b0 = NAME(load_prefix)(row0 + x + VW, width - VW);
                    V a1 = {0}, b1 = {0};
                    if (hasRow1) {
                        a1 = NAME(load_prefix)(row0 + Wo + x, width);
                        b1 = NAME(load_prefix)(row0 + Wo + x + VW, width - VW);
                    }
                    V p0 = EVENS(a0, b0), q0 = ODDS(a0, b0), p1 = EVENS(a1, b1), q1 = ODDS(a1, b1);
                    V ev[4] = {p0, p0 + p1, p0 - p1, -p1};   // A·δ, even columns
                    V od[4] = {q0, q0 + q1, q0 - q1, -q1};   // A·δ, odd columns
                    for (int i = 0; i < 4; i++) {
                        float *oi = o + (size_t)(4 * i) * xiStride + (size_t)t;
                        NAME(store)(oi, ev[i]);
                        NAME(store)(oi + xiStride, ev[i] + od[i]);
                        NAME(store)(oi + 2 * xiStride, ev[i] - od[i]);
                        NAME(store)(oi + 3 * xiStride, -od[i]);
                    }
                }
            }
        }
    }
}

// dU[ξ][c][k] += Σ_t V[ξ][c][t]·D[ξ][k][t] over the block's tiles. Vectors run along t, so
// each (ξ, c, k) has a vector of partial sums, kept in `lanes` (16, C, K, VW) from block to block
// and summed across once at the end: CB channels × KB filters of them in registers per pass.
#if VW == 16
#define CB 4
#define KB 4
#else
#define CB 3
#define KB 3
#endif
static void NAME(accumulate_block)(const winograd_plan *plan, const float *v, const float *d, float *lanes, float *du,
                                   int tiles) {
    const int C = plan->channels, K = plan->filters;
    const size_t ld = (size_t)plan->ld;
    const int whole = tiles / VW * VW;
    for (int xi = 0; xi < 16; xi++) {
        const float *vxi = v + (size_t)xi * plan->vStride;
        const float *dxi = d + (size_t)xi * plan->dStride;
        float *laneXi = lanes + (size_t)xi * (size_t)C * (size_t)K * VW;
        float *duxi = du + (size_t)xi * (size_t)C * (size_t)K;
        for (int c0 = 0; c0 < C; c0 += CB) {
            const int cn = C - c0 < CB ? C - c0 : CB;
            for (int k0 = 0; k0 < K; k0 += KB) {
                const int kn = K - k0 < KB ? K - k0 : KB;
                // Rows past the last channel or filter repeat the last one; their sums are dropped.
                const float *vr[CB], *dr[KB];
                for (int i = 0; i < CB; i++) vr[i] = vxi + (size_t)(c0 + (i < cn ? i : cn - 1)) * ld;
                for (int j = 0; j < KB; j++) dr[j] = dxi + (size_t)(k0 + (j < kn ? j : kn - 1)) * ld;
                V s[CB][KB];
                for (int i = 0; i < CB; i++)
                    for (int j = 0; j < KB; j++)
                        s[i][j] = (i < cn && j < kn)
                            ? NAME(load)(laneXi + ((size_t)(c0 + i) * (size_t)K + (size_t)(k0 + j)) * VW) : (V){0};
                for (int t = 0; t < whole; t += VW) {
                    V x[CB];
                    for (int i = 0; i < CB; i++) x[i] = NAME(load)(vr[i] + t);
                    for (int j = 0; j < KB; j++) {
                        const V e = NAME(load)(dr[j] + t);
                        for (int i = 0; i < CB; i++) s[i][j] += x[i] * e;
                    }
                }
                for (int i = 0; i < cn; i++) {
                    for (int j = 0; j < kn; j++) {
                        const size_t at = (size_t)(c0 + i) * (size_t)K + (size_t)(k0 + j);
                        NAME(store)(laneXi + at * VW, s[i][j]);
                        float tail = 0;
                        for (int t = whole; t < tiles; t++) tail += vr[i][t] * dr[j][t];
                        duxi[at] += tail;
                    }
                }
            }
        }
    }
}
#undef CB
#undef KB

static void NAME(weight_gradient)(const winograd_plan *plan, const float *input, const float *delta, int batch,
                                  float *du, float *scratch) {
    float *v = scratch;
    float *d = v + 16 * plan->vStride;
    float *line = d + 16 * plan->dStride;
    float *padded = line + plan->lineCount;
    float *lanes = padded + plan->paddedCount;
    const size_t pairs = 16 * (size_t)plan->channels * (size_t)plan->filters;
    __builtin_memset(line, 0, sizeof(float) * plan->lineCount);
    __builtin_memset(lanes, 0, sizeof(float) * pairs * VW);
    winograd_block block = {0, 0, 0, 0};
    while (NAME(next_block)(plan, batch, &block)) {
        TRANSFORM(pad_block)(plan, &block, input, padded, line);
        TRANSFORM(input_transform_block)(plan, &block, padded, v);
        TRANSFORM(delta_transform_block)(plan, &block, delta, d);
        NAME(accumulate_block)(plan, v, d, lanes, du, block.images * block.tileRows * plan->tilesX);
    }
    for (size_t pair = 0; pair < pairs; pair++) {
        const V partial = NAME(load)(lanes + pair * VW);
        float total = 0;
        for (int l = 0; l < VW; l++) total += partial[l];
        du[pair] += total;
    }
}

#undef TRANSFORM
