// The function is static inline in include/CRxrayChecksum.h; a C target needs one source file.
#include "CRxrayChecksum.h"
