//! Handing freed memory back to the system after a render worker ends.

use napi_derive::napi;

/// Gives the memory malloc holds free back to the system; returns whether it could. Called after
/// a render worker ends: glibc keeps what a finished thread freed in its arenas, so without this
/// recycling a worker would not lower the process's RSS. A no-op off glibc.
#[napi]
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks malloc's own arenas, under their locks.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
