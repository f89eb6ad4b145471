// The functions are static inline in include/CRxrayText.h; a C target needs one source file.
#include "CRxrayText.h"
