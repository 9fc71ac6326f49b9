// The fused kernel for the "avx2" instruction set (the body is variant.inc).
// Compiler flags for this file alone: -mavx2 -mfma.
#define FASTMLP_FUSED_VARIANT avx2
#include <fastmlp/fused/variant.inc>
