#ifndef KILN_CZSTD_SHIM_H
#define KILN_CZSTD_SHIM_H
#include <zstd.h>
#endif
