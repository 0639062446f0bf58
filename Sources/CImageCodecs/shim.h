#ifndef GRAPHC_CIMAGECODECS_SHIM_H
#define GRAPHC_CIMAGECODECS_SHIM_H
// libpng 1.6 (Debian libpng-dev) and libjpeg-turbo (libjpeg-dev).
#include <stdio.h>
#include <png.h>
#include <jpeglib.h>
#endif
