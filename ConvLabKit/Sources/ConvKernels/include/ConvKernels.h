// ConvLab's vector kernels, written in C because Swift cannot compile one function for several
// instruction sets: each kernel exists for AVX-512, AVX2 + FMA and plain x86-64, and the engine
// picks one at run time from the CPU's features (cpuid), so one build runs on every machine.
#ifndef CONVLAB_KERNELS_H
#define CONVLAB_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction sets a kernel is built for, best last.
typedef enum {
    convlab_isa_generic = 0,   // x86-64 baseline (SSE2), or any other processor
    convlab_isa_avx2 = 1,      // AVX2 + FMA (Haswell, Zen 1–3)
    convlab_isa_avx512 = 2,    // AVX-512 F/BW/DQ/VL (Skylake-X and later, Zen 4 and later)
} convlab_isa;

/// The best instruction set this CPU runs, or the lower one named by CONVLAB_KERNELS
/// (`avx512`, `avx2` or `generic`): the variable lets tests run every path a machine has.
/// A name the CPU cannot run, or an unknown name, leaves the CPU's best.
convlab_isa convlab_kernel_isa(void);
/// The best instruction set this CPU runs, ignoring CONVLAB_KERNELS.
convlab_isa convlab_cpu_isa(void);

/// Each kernel below takes the instruction set to run with (at most `convlab_cpu_isa()`).

/// One core's arithmetic peak in GFLOP/s with this instruction set's vectors: a loop of
/// independent fused multiply-adds run for about `seconds` (2 FLOPs per lane and FMA).
double convlab_peak_gflops(convlab_isa isa, double seconds);

/// A 3×3, stride-1 convolution computed with Winograd's minimal filtering F(2×2, 3×3).
typedef struct {
    int channels, height, width;   // input (C, H, W)
    int filters;                   // K
    int pad;                       // zero padding on every side, 0 ≤ pad ≤ 2
} convlab_winograd_geometry;

/// Floats the forward pass needs for `transformed weights` ((16, C, K rounded up to 4)).
size_t convlab_winograd_weights_count(convlab_winograd_geometry g);
/// Floats of scratch memory the forward pass needs (independent of the batch).
size_t convlab_winograd_forward_scratch_count(convlab_winograd_geometry g);
/// Floats of scratch memory the weight gradient needs (independent of the batch).
size_t convlab_winograd_weight_gradient_scratch_count(convlab_winograd_geometry g);

/// U[ξ][c][k] = (G · w[k][c] · Gᵀ)[ξ] for w (K, C, 3, 3). With `rotate`, the weights of the
/// input-error pass instead: w'[c][k] = rot180(w[k][c]), i.e. a convolution with C filters over K
/// channels; `g` is always the forward geometry.
void convlab_winograd_transform_weights(convlab_winograd_geometry g, const float *weights, int rotate, float *transformed);

/// y[n,k] = bias[k] + Σ_c corr(pad(x[n,c]), w[k,c]) for x (N, C, H, W), y (N, K, Ho, Wo) with
/// Ho = H + 2·pad − 2; `bias` may be NULL.
void convlab_winograd_forward(convlab_isa isa, convlab_winograd_geometry g, const float *input, int batch, const float *transformed,
                              const float *bias, float *output, float *scratch);

/// dW[k,c] = Σ_n valid_corr(pad(x[n,c]), δ[n,k]) for x (N, C, H, W), δ (N, K, Ho, Wo), dW (K, C, 3, 3),
/// computed as Gᵀ·(Σ_tiles (A·δ·Aᵀ) ⊙ (Bᵀ·x·B))·G.
void convlab_winograd_weight_gradient(convlab_isa isa, convlab_winograd_geometry g, const float *input, const float *delta, int batch,
                                      float *weightGradient, float *scratch);

/// A max-pooling layer the vector kernel runs: stride 2 both ways, windows of at most 4×4,
/// padding smaller than the window.
typedef struct {
    int height, width;               // an input plane
    int outputHeight, outputWidth;
    int windowHeight, windowWidth;
    int padY, padX;
} convlab_pool_geometry;

/// Floats of one scratch line; the kernel needs windowHeight of them.
size_t convlab_pool_line_count(convlab_pool_geometry g);

/// y = max over each window, argmax = the winning cell's index in its input plane, for `planes`
/// planes (N·C) of (H, W): the first maximum in scan order wins, padding never wins, a NaN wins
/// (the last one).
void convlab_max_pool_stride2(convlab_isa isa, convlab_pool_geometry g, const float *input, int planes, float *output,
                              int *argmax, float *scratch);

#ifdef __cplusplus
}
#endif

#endif
