// Compiles the kernel body named by KERNEL_BODY (a quoted file name) once per instruction set:
// plain x86-64 (VW 8, no target features), AVX2 + FMA (VW 8) and AVX-512 (VW 16), each function
// suffixed _generic, _avx2 or _avx512. Included by Winograd.c and Pooling.c after KERNEL_BODY.

#define VW 8
#define ISA 0
#define SUFFIX generic
#include KERNEL_BODY
#undef VW
#undef ISA
#undef SUFFIX

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define VW 8
#define ISA 1
#define SUFFIX avx2
#include KERNEL_BODY
#undef VW
#undef ISA
#undef SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), apply_to = function)
#define VW 16
#define ISA 2
#define SUFFIX avx512
#include KERNEL_BODY
#undef VW
#undef ISA
#undef SUFFIX
#pragma clang attribute pop
#endif

#undef KERNEL_BODY
