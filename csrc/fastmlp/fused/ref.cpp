// The fused kernel for the "ref" instruction set (the body is variant.inc).
// Compiler flags for this file alone: none.
#define FASTMLP_FUSED_VARIANT ref
#include <fastmlp/fused/variant.inc>
