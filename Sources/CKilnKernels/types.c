// The C type table's public lookup (the table itself is in kiln_internal.h).
#include "kiln_internal.h"

const kiln_weight_traits *kiln_weight_type(int32_t type) {
    return type >= 0 && type < KILN_WEIGHT_COUNT ? &kiln_weight_types[type] : NULL;
}
