#undef V
#undef IV
#undef EVENS
#undef ODDS
#undef ZIP_LOW
#undef ZIP_HIGH

// Vector helpers shared by the kernel bodies (WinogradBody.h, PoolingBody.h): included by each
// body, once per instruction set, with VW (floats per vector), ISA and SUFFIX defined.

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define NAME(name) CAT(name, SUFFIX)

typedef float NAME(vec) __attribute__((vector_size(VW * 4)));
#define V NAME(vec)

static inline V NAME(load)(const float *p) { V v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void NAME(store)(float *p, V v) { __builtin_memcpy(p, &v, sizeof v); }
static inline V NAME(splat)(float x) { V v = (V){0} + x; return v; }

// Lanes 0, 2, 4, … of the 2·VW floats a ++ b, and lanes 1, 3, 5, ….
#if VW == 16
#define EVENS(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define ODDS(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#define ZIP_LOW(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define ZIP_HIGH(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#elif VW == 8
#define EVENS(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODDS(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define ZIP_LOW(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define ZIP_HIGH(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#error "VW must be 8 or 16"
#endif

// The first n floats at p, zeros after; and the first n of v stored at p (0 ≤ n; n ≥ VW: all).
#if ISA == 2
static inline __mmask16 NAME(mask)(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1); }
static inline V NAME(load_prefix)(const float *p, int n) { return (V)_mm512_maskz_loadu_ps(NAME(mask)(n), p); }
static inline void NAME(store_prefix)(float *p, V v, int n) { _mm512_mask_storeu_ps(p, NAME(mask)(n), (__m512)v); }
#elif ISA == 1
static inline __m256i NAME(mask)(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline V NAME(load_prefix)(const float *p, int n) { return (V)_mm256_maskload_ps(p, NAME(mask)(n)); }
static inline void NAME(store_prefix)(float *p, V v, int n) { _mm256_maskstore_ps(p, NAME(mask)(n), (__m256)v); }
#else
static inline V NAME(load_prefix)(const float *p, int n) {
    V v = {0};
    for (int l = 0; l < VW && l < n; l++) v[l] = p[l];
    return v;
}
static inline void NAME(store_prefix)(float *p, V v, int n) {
    for (int l = 0; l < VW && l < n; l++) p[l] = v[l];
}
#endif

// Copies `count` floats (whole vectors, then a masked tail).
static inline void NAME(copy)(float *to, const float *from, int count) {
    int x = 0;
    for (; x + VW <= count; x += VW) NAME(store)(to + x, NAME(load)(from + x));
    if (x < count) NAME(store_prefix)(to + x, NAME(load_prefix)(from + x, count - x), count - x);
}

#define IV NAME(ivec)
typedef int NAME(ivec) __attribute__((vector_size(VW * 4)));
// a where mask, else b (mask lanes all ones or all zeros).
static inline V NAME(select)(IV mask, V a, V b) { return (V)((mask & (IV)a) | (~mask & (IV)b)); }
static inline IV NAME(select_int)(IV mask, IV a, IV b) { return (mask & a) | (~mask & b); }
