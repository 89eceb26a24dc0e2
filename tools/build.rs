//! Link flags for this package's binaries only.
fn main() {
    // Packed relative relocations (DT_RELR, glibc >= 2.36): the dynamic loader reads a few
    // KiB instead of ~480 KiB of RELA entries at every start of the binary (see
    // docs/perf-perf-exec.md).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
