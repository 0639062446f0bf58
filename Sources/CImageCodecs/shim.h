#ifndef GRAPHC_CIMAGECODECS_SHIM_H
#define GRAPHC_CIMAGECODECS_SHIM_H
// libpng 1.6 (Debian libpng-dev) and libjpeg-turbo (libjpeg-dev).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg reports fatal errors through error_exit, which must not return. A longjmp must never cross a
// Swift frame, so the whole decode (setjmp, libjpeg calls, longjmp target) lives in this C function and
// Swift sees only a return code and a message. (PNG uses libpng's setjmp-free png_image_* API.)

struct graphc_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char message[JMSG_LENGTH_MAX];
};

static inline void graphc_jpeg_error_exit(j_common_ptr cinfo) {
    struct graphc_jpeg_error *e = (struct graphc_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

// Warnings are not printed; a premature end of data (libjpeg would pad with gray) is remembered so the
// caller can report the file as truncated, as PIL does.
static inline void graphc_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct graphc_jpeg_error *e = (struct graphc_jpeg_error *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        e->truncated = 1;
        (*cinfo->err->format_message)(cinfo, e->message);
    }
}

/// Decodes a JPEG held in memory to interleaved RGB8.
/// Returns 0 on success (*pixels is malloc'ed; the caller frees it), otherwise 1 (libjpeg error),
/// 2 (more than max_pixels pixels), 3 (truncated data) or 4 (out of memory), with a message in errbuf.
static inline int graphc_jpeg_decode_rgb(const unsigned char *data, unsigned long size, long long max_pixels,
                                         unsigned char **pixels, int *width, int *height,
                                         char *errbuf, int errlen) {
    struct jpeg_decompress_struct cinfo;
    struct graphc_jpeg_error jerr;
    unsigned char *volatile buf = NULL;
    *pixels = NULL;
    *width = 0;
    *height = 0;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = graphc_jpeg_error_exit;
    jerr.pub.emit_message = graphc_jpeg_emit_message;
    if (setjmp(jerr.jump)) {
        snprintf(errbuf, errlen, "%s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        snprintf(errbuf, errlen, "image is %ux%u, more than the limit of %lld pixels",
                 cinfo.image_width, cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    buf = (unsigned char *)malloc(stride * cinfo.output_height);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 4;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (jerr.truncated) break;
    }
    if (jerr.truncated) {
        snprintf(errbuf, errlen, "truncated JPEG data (%s) at scanline %u of %u",
                 jerr.message, cinfo.output_scanline, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return 3;
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *pixels = buf;
    return 0;
}

#endif
