// The element-wise sweeps for the "ref" kernel (the body is variant.inc).
// Compiler flags for this file alone: none.
#define FASTMLP_ELEMENTWISE_VARIANT ref
#include <fastmlp/elementwise/variant.inc>
