//! The fingerprint key of this machine: fingerprints of secrets in traces and
//! reports are keyed with it (see `wasim_sim::trace::set_fingerprint_key`), so
//! they stay the same run to run here while a shared trace cannot be reversed by
//! hashing a dictionary without it. It is 32 random bytes kept in
//! `$WASIM_FINGERPRINT_KEY_FILE`, else `$XDG_STATE_HOME/wasim/fingerprint.key`,
//! else `~/.local/state/wasim/fingerprint.key` (created on first use, mode 0600),
//! and printed nowhere. Where no such file can be kept, each run draws its own.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Where the key is kept, if anywhere.
fn key_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WASIM_FINGERPRINT_KEY_FILE") {
        return Some(PathBuf::from(path));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("wasim").join("fingerprint.key"))
}

/// 32 bytes from the operating system's random source.
fn random_key() -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

/// The machine's key: read, or created and kept; a fresh one when it cannot be.
fn machine_key() -> Option<[u8; 32]> {
    let path = key_path();
    if let Some(path) = &path
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Some(key);
    }
    let key = random_key().ok()?;
    if let Some(path) = path {
        let kept = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
            })
            .and_then(|mut file| file.write_all(&key));
        if kept.is_err() {
            // Another run created it first: use that one, so both agree.
            if let Ok(bytes) = std::fs::read(&path)
                && let Ok(theirs) = <[u8; 32]>::try_from(bytes.as_slice())
            {
                return Some(theirs);
            }
        }
    }
    Some(key)
}

/// Keys this process's fingerprints with the machine's key.
pub(crate) fn install() {
    if let Some(key) = machine_key() {
        wasim_sim::trace::set_fingerprint_key(key);
    }
}
