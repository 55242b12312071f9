// zlib (Debian: zlib1g-dev). gzread reads gzip and raw files alike.
#include <zlib.h>
