// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). openblas_set_num_threads lets the
// engine own the threading: it splits a batch across cores itself.
#include <cblas.h>
