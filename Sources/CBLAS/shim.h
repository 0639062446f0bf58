#ifndef GRAPHC_CBLAS_SHIM_H
#define GRAPHC_CBLAS_SHIM_H
// OpenBLAS (Debian libopenblas-dev) and LAPACKE (liblapacke-dev); both live on clang's default search path.
#include <cblas.h>
#include <lapacke.h>
#endif
