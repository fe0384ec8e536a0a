//! The C allocator's habits, tuned for a long-lived desktop process. glibc
//! gives each busy thread its own arena and keeps freed memory for reuse;
//! for a process that is idle most of the day both are megabytes held for
//! nothing. Elsewhere (musl, macOS, Windows) these do nothing.
//!
//! `unsafe` here: two libc calls that take plain integers (the rest of the
//! workspace's is the Windows system calls of the platform seams).
#![allow(unsafe_code)]

/// At most `arenas` malloc arenas. Call first thing in `main`, before any
/// thread starts.
pub fn limit_arenas(arenas: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc malloc parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = arenas;
}

/// Gives the freed memory every arena holds back to the system: after a
/// start-up's temporary buffers, and when the process goes idle.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
