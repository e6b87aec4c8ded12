//! Run-time CPU feature detection for the few kernels that gain from wider vectors or fused
//! multiply-add.
//!
//! The crate is built for the baseline target (x86-64 with SSE2), so a binary runs on any
//! x86-64 machine. A kernel that gains from AVX2 (four `f64` lanes instead of two) or FMA (one
//! rounding and one latency instead of two on a dependency chain) has a clone compiled with
//! those features (`#[target_feature]`), and its public entry point calls the clone when
//! [`avx2_fma`] says the CPU has them. That call is the only `unsafe` in the workspace
//! (`unsafe_code` is `deny`, allowed at these call sites only): a `#[target_feature]` function
//! is safe to call once the features it enables are known to be present, which is what the
//! check establishes.
//!
//! Results do not depend on the path taken: LLVM never fuses a multiply and an add on its
//! own, so a clone differs from the baseline only in vector width, which does not change any
//! lane's arithmetic; where a kernel wants fusion it calls [`f64::mul_add`] on every path
//! (on a CPU without FMA that is a correctly rounded software `fma`, slower but bit-identical).

/// Whether the CPU has AVX2 and FMA (the check is cached by `std`; one atomic load after the
/// first call).
#[inline]
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
