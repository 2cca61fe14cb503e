#ifndef KILN_CZLIB_SHIM_H
#define KILN_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro (it passes the library version and struct size), which Swift
// cannot call; this wrapper can be. windowBits -15 = raw deflate, as ZIP members store it.
static inline int kiln_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -15);
}
#endif
