// CPU feature detection (cpuid and xgetbv) and the choice of instruction set,
// with FASTMLP_GEMM_KERNEL's override: see isa.hpp.
//
// Not here: the kernels themselves (gemm/kernel_*.cpp, elementwise/*.cpp), or
// how each caller dispatches to them (gemm/paths.hpp, elementwise/dispatch.cpp).
#include <fastmlp/isa.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

// cpuid and xgetbv: GCC-style (GCC, Clang, clang-cl) or MSVC's intrinsics.
#if defined(FASTMLP_X86) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_CPUID_GNU 1
#include <cpuid.h>
#elif defined(FASTMLP_X86) && defined(_MSC_VER)
#define FASTMLP_CPUID_MSVC 1
#include <immintrin.h>
#include <intrin.h>
#endif

namespace fastmlp {
namespace {

// Read from cpuid and xgetbv directly, not through __builtin_cpu_supports:
// that needs a runtime symbol (__cpu_model) which Apple's toolchain lacks, and
// MSVC has no such builtin. An instruction set counts only when the CPU has
// its instructions and the OS saves its registers (XCR0).
struct CpuFeatures {
  bool avx2_fma = false;
  bool avx512f = false;
};

#if defined(FASTMLP_CPUID_GNU) || defined(FASTMLP_CPUID_MSVC)

// Registers eax, ebx, ecx, edx of cpuid(leaf, subleaf).
struct CpuidRegs {
  std::uint32_t a, b, c, d;
};

CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t subleaf) noexcept {
#if defined(FASTMLP_CPUID_MSVC)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  return {static_cast<std::uint32_t>(r[0]), static_cast<std::uint32_t>(r[1]),
          static_cast<std::uint32_t>(r[2]), static_cast<std::uint32_t>(r[3])};
#else
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
#endif
}

// XCR0: which register states the OS saves on a context switch.
std::uint64_t xcr0() noexcept {
#if defined(FASTMLP_CPUID_MSVC)
  return _xgetbv(0);
#else
  std::uint32_t lo, hi;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}
#endif

const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(FASTMLP_CPUID_GNU) || defined(FASTMLP_CPUID_MSVC)
    const std::uint32_t max_leaf = cpuid(0, 0).a;
    if (max_leaf < 7) return f;
    const CpuidRegs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
    const bool osxsave = (l1.c >> 27) & 1, avx = (l1.c >> 28) & 1, fma = (l1.c >> 12) & 1;
    if (!osxsave || !avx) return f;
    const std::uint64_t xcr = xcr0();
    const bool ymm_saved = (xcr & 0x6) == 0x6;      // SSE and AVX state
    const bool zmm_saved = (xcr & 0xe6) == 0xe6;    // and opmask, ZMM0-15 upper, ZMM16-31
    f.avx2_fma = ymm_saved && fma && ((l7.b >> 5) & 1);
    f.avx512f = f.avx2_fma && zmm_saved && ((l7.b >> 16) & 1);
#endif
    return f;
  }();
  return features;
}

Isa choose_isa() {
  const char* env = std::getenv("FASTMLP_GEMM_KERNEL");
  if (env == nullptr || *env == '\0') {
    if (isa_supported(Isa::Avx512)) return Isa::Avx512;
    if (isa_supported(Isa::Avx2)) return Isa::Avx2;
    return Isa::Ref;
  }
  for (Isa isa : {Isa::Ref, Isa::Avx2, Isa::Avx512}) {
    if (std::strcmp(env, isa_name(isa)) != 0) continue;
    if (!isa_supported(isa))
      throw std::runtime_error(std::string("FASTMLP_GEMM_KERNEL=") + env +
                               ": this CPU (or this build) cannot run that kernel");
    return isa;
  }
  throw std::runtime_error(std::string("FASTMLP_GEMM_KERNEL=") + env +
                           ": expected ref, avx2 or avx512 (or unset)");
}

}  // namespace

bool isa_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::Ref: return true;
    case Isa::Avx2: return cpu_features().avx2_fma;  // never off x86-64
    case Isa::Avx512: return cpu_features().avx512f;
  }
  return false;
}

const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::Ref: return "ref";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

Isa active_isa() {
  static const Isa chosen = choose_isa();  // once; a throw is retried next call
  return chosen;
}

}  // namespace fastmlp
