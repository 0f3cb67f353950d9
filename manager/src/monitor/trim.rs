//! Dropping setup code from the monitor's resident set once the container is created.
//!
//! Creating the container runs code the monitor never needs again (argument parsing, process
//! spawning, the runtime-log reader). Its pages stay resident and count in the monitor's RSS
//! for the container's whole life. Executable file mappings are never written, so they can be
//! dropped with `MADV_DONTNEED` and are re-read from the page cache on the next access: only
//! the event loop's working set comes back.

use std::fs;

/// Drops the resident pages of every executable, file-backed, private mapping. Returns how
/// many mappings were trimmed.
pub fn drop_code_pages() -> usize {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut trimmed = 0;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Only clean code: writable or shared mappings may hold data that exists nowhere else.
        let path = fields.nth(3).unwrap_or("");
        if perms != "r-xp" || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is a whole private, read-only, executable mapping of a file; its
        // pages were never modified, so discarding them only makes the next access re-read
        // them from the file. No Rust object lives in that memory.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc == 0 {
            trimmed += 1;
        }
    }
    trimmed
}
