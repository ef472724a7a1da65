//! Link settings of the `gatehouse` binary that no Cargo profile can say.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if packed_relocations_run_here() {
        // The loader reads every relocation of this position-independent binary at start,
        // and the pages it read stay resident for good: 36 677 entries of 24 bytes, 0.84
        // MiB. Packed (DT_RELR) they take 14 kB, with the same address randomisation and
        // the same read-only-after-start relocations.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=hot-functions.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if links_with_rust_lld() {
        // The kernel maps up to 64 kB of cached pages around every code page a process
        // faults in, so the functions a server runs, scattered over 33 MB of code, kept
        // 14–17 MB of it resident; laid out side by side, 6–7 MB (`scripts/bench
        // hot-code` writes the list; a name the binary lacks is skipped, silently).
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/hot-functions.txt")
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Rust links x86-64 Linux binaries with its own lld, which reads a symbol ordering
/// file (GNU ld does not), unless a linker is chosen in the environment, a Cargo
/// configuration (`RUSTC_LINKER`) or the flags.
fn links_with_rust_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    target == "x86_64-unknown-linux-gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !flags.contains("link")
}

/// A packed binary starts only where glibc is 2.36 or later (it then refuses to start,
/// naming `GLIBC_ABI_DT_RELR`), so it is packed only for the machine that builds it, when
/// that machine's glibc reads it: not for another target, where nothing here can tell.
fn packed_relocations_run_here() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return false;
    }
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let answer = String::from_utf8_lossy(&output.stdout);
    let mut version = answer
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    matches!(
        (version.next(), version.next()),
        (Some(Some(major)), Some(Some(minor))) if (major, minor) >= (2, 36)
    )
}
