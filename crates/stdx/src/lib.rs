//! Helpers that several crates need and that belong to none of them, in the
//! spirit of rust-analyzer's `stdx`.
//!
//! Invariants:
//! - Depends on std and four small crates (`subtle`, `getrandom`, `sha2`,
//!   `libc`; `windows-sys` on Windows) and on no Perch crate, so every crate may use it,
//!   `perch-codex` and the relay included.
//!   HTTP clients are `stdx-http`'s, apart so that a crate that makes no
//!   request links no HTTP client through stdx (features unify).
//! - Nothing here knows a Perch type, a wire format or a file layout.

pub mod memory;
pub mod private;
pub mod search;

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Creates `path` as an empty file only its owner may read or write, unless
/// it exists (then it is left alone). For databases: SQLite opens an empty
/// file as a new database and gives its `-wal` and `-shm` files its mode.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = private::open_options();
    options.write(true).create_new(true);
    match options.open(path) {
        Ok(_) => private::restrict(path, private::Kind::File).map(|_| ()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Writes `contents` to `path`, a file only its owner may read or write
/// (made so if it existed with a wider mode).
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = private::open_options();
    options.write(true).create(true).truncate(true);
    let mut file = options.open(path)?;
    private::restrict(path, private::Kind::File)?;
    file.write_all(contents)
}

/// Milliseconds since the Unix epoch (0 for a clock before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `bytes` random bytes from the OS, as lowercase hex. Tokens, session ids
/// and login codes come from here, so there is no weaker fallback: if the OS
/// cannot provide randomness, the caller gets an error.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| std::io::Error::other(format!("the OS random source failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two secrets in time that depends on their lengths only, not on
/// where they first differ.
pub fn ct_eq(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

/// The SHA-256 digest of `text`, as lowercase hex: how a secret that is
/// checked but never shown again (an agent key) is stored.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `text` as it is when it has at most `max_chars` characters, else its
/// first `max_chars - 1` characters and "…".
pub fn ellipsize(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Locking that survives a panic elsewhere: Perch's mutexes guard plain data
/// that every writer leaves consistent before it can panic, so a poisoned
/// lock is still safe to use, and one panicking task must not take the
/// whole process down with it.
pub trait MutexExt<T> {
    fn lock_unpoisoned(&self) -> MutexGuard<'_, T>;
}

impl<T> MutexExt<T> for Mutex<T> {
    fn lock_unpoisoned(&self) -> MutexGuard<'_, T> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// [`MutexExt`] for readers-writer locks.
pub trait RwLockExt<T> {
    fn read_unpoisoned(&self) -> RwLockReadGuard<'_, T>;
    fn write_unpoisoned(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> RwLockExt<T> for RwLock<T> {
    fn read_unpoisoned(&self) -> RwLockReadGuard<'_, T> {
        self.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_unpoisoned(&self) -> RwLockWriteGuard<'_, T> {
        self.write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `90s`, `10m`, `2h`, `1d`, `1w`, `1h30m`, or a bare number of seconds, in
/// milliseconds; `None` for anything else (zero and overflow included).
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim().to_lowercase();
    if let Ok(secs) = text.parse::<i64>() {
        return secs.checked_mul(1000).filter(|ms| *ms > 0);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            ' ' if number.is_empty() => continue,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        total = n.checked_mul(unit)?.checked_add(total)?;
        number.clear();
    }
    (number.is_empty() && total > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsize_counts_characters_not_bytes() {
        assert_eq!(ellipsize("héllo", 5), "héllo");
        assert_eq!(ellipsize("héllo wörld", 6), "héllo…");
        assert_eq!(ellipsize("ab", 0), "…");
    }

    #[test]
    fn sha256_hex_is_the_standard_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms(" 15M "), Some(900_000));
        assert_eq!(parse_duration_ms("2"), Some(2_000));
        for bad in ["", "0", "-5", "5x", "m", "1h30", "99999999999999999999d"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq("secret", "secret"));
        assert!(!ct_eq("secret", "secreT"));
        assert!(!ct_eq("secret", "secret2"));
    }

    #[test]
    fn random_hex_has_two_digits_per_byte() -> std::io::Result<()> {
        let hex = random_hex(16)?;
        assert_eq!(hex.len(), 32);
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(hex, random_hex(16)?);
        Ok(())
    }

    #[test]
    fn a_poisoned_lock_still_opens() {
        let lock = std::sync::Arc::new(Mutex::new(1));
        let held = lock.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.lock_unpoisoned();
            panic!("poison it");
        })
        .join();
        assert!(lock.is_poisoned());
        assert_eq!(*lock.lock_unpoisoned(), 1);
    }
}
