//! The keys that authenticate rollback files. A hash chain alone proves nothing: anyone can recompute
//! SHA-256, so a forged entry with a recomputed chain would be obeyed by restore. Each rollback file is
//! therefore authenticated with HMAC-SHA256 under a key kept outside the file: a random key per file in the
//! user's private state directory (`$XDG_STATE_HOME/hikkonuki/rollback-keys/`, by default
//! `~/.local/state/...`, directory 0700, key 0600), or one given by the environment
//! (`HIKKONUKI_ROLLBACK_KEY`) for teams that restore from another machine. The file names its key by an
//! ID only; whoever can write the rollback file's directory but not the user's home cannot forge it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::files;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The environment variable that gives the key instead of the state directory.
pub const KEY_VARIABLE: &str = "HIKKONUKI_ROLLBACK_KEY";
/// A key given by environment must be at least this long: it is the only secret protecting restore.
const MIN_ENV_KEY_CHARS: usize = 32;

/// Where keys are found and made.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: Option<PathBuf>,
    env_key: Option<Vec<u8>>,
}

/// A key and the ID the rollback file records for it.
#[derive(Clone)]
pub struct RollbackKey {
    pub id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for RollbackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RollbackKey({})", self.id)
    }
}

impl RollbackKey {
    /// The authentication code of one entry: over the previous entry's code and this entry's text, so
    /// entries can be neither edited, forged, reordered nor removed from the middle.
    pub fn mac(&self, previous: &str, body: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(previous.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks a code in constant time.
    pub fn verify(&self, previous: &str, body: &str, code: &str) -> bool {
        let Ok(code) = hex::decode(code) else {
            return false;
        };
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(previous.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        mac.verify_slice(&code).is_ok()
    }
}

fn env_key_id(secret: &[u8]) -> String {
    format!("env-{}", &hex::encode(Sha256::digest(secret))[..16])
}

/// Key IDs come from files the tool reads, so they are checked before they become part of a path.
fn is_valid_key_id(id: &str) -> bool {
    let hex_of = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    hex_of(id, 32) || id.strip_prefix("env-").is_some_and(|rest| hex_of(rest, 16))
}

/// The user's own key store ([`KeyStore::from_environment`]).
impl Default for KeyStore {
    fn default() -> KeyStore {
        KeyStore::from_environment()
    }
}

impl KeyStore {
    /// The key store of this user: `HIKKONUKI_ROLLBACK_KEY` if set, else the state directory.
    pub fn from_environment() -> KeyStore {
        let dir = std::env::var_os("XDG_STATE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
            })
            .map(|state| state.join("hikkonuki/rollback-keys"));
        let env_key = std::env::var(KEY_VARIABLE)
            .ok()
            .filter(|key| !key.is_empty())
            .map(String::into_bytes);
        KeyStore { dir, env_key }
    }

    /// Keys in `dir` only (tests, and tools that keep keys elsewhere).
    pub fn in_dir(dir: &Path) -> KeyStore {
        KeyStore {
            dir: Some(dir.to_path_buf()),
            env_key: None,
        }
    }

    /// Only `secret`, as if given by `HIKKONUKI_ROLLBACK_KEY` (the fuzz target, tools that manage keys).
    pub fn with_key(secret: &[u8]) -> KeyStore {
        KeyStore {
            dir: None,
            env_key: Some(secret.to_vec()),
        }
    }

    /// A new key for a new rollback file, stored before the file is written.
    pub fn new_key(&self) -> Result<RollbackKey, String> {
        if let Some(secret) = &self.env_key {
            if secret.len() < MIN_ENV_KEY_CHARS {
                return Err(format!(
                    "{KEY_VARIABLE} is set but shorter than {MIN_ENV_KEY_CHARS} characters\n  fix: set it to a long random value (e.g. `openssl rand -hex 32`), or unset it to keep a key per file in your state directory"
                ));
            }
            return Ok(RollbackKey {
                id: env_key_id(secret),
                secret: secret.clone(),
            });
        }
        let dir = self.dir.as_ref().ok_or_else(|| {
            format!("no state directory to keep the rollback file's key in (neither XDG_STATE_HOME nor HOME is set)\n  fix: set HOME, or give a key with {KEY_VARIABLE}")
        })?;
        files::create_private_dir_all(dir)
            .map_err(|err| format!("{}: cannot create the key directory: {err}", dir.display()))?;
        let mut id = [0u8; 16];
        let mut secret = [0u8; 32];
        // The kernel's CSPRNG; the tool runs on Linux and macOS, which both have it.
        fs::File::open("/dev/urandom")
            .and_then(|mut random| {
                use std::io::Read;
                random.read_exact(&mut id)?;
                random.read_exact(&mut secret)
            })
            .map_err(|err| format!("the system gave no random bytes for a key: {err}"))?;
        let id = hex::encode(id);
        let path = dir.join(format!("{id}.key"));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|err| format!("{}: cannot create the key: {err}", path.display()))?;
        file.write_all(hex::encode(secret).as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|err| format!("{}: cannot write the key: {err}", path.display()))?;
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(RollbackKey {
            id,
            secret: secret.to_vec(),
        })
    }

    /// The key a rollback file names; the error says where it was looked for and what to do.
    pub fn key(&self, id: &str) -> Result<RollbackKey, String> {
        if !is_valid_key_id(id) {
            return Err("names a key ID that hikkonuki never writes".into());
        }
        if id.starts_with("env-") {
            return match &self.env_key {
                Some(secret) if env_key_id(secret) == id => Ok(RollbackKey {
                    id: id.to_string(),
                    secret: secret.clone(),
                }),
                Some(_) => Err(format!(
                    "was authenticated with a key given in {KEY_VARIABLE}, and the one set now is another"
                )),
                None => Err(format!(
                    "was authenticated with a key given in {KEY_VARIABLE}, which is not set now"
                )),
            };
        }
        let dir = self.dir.as_ref().ok_or_else(|| {
            "its key is kept in the state directory, and neither XDG_STATE_HOME nor HOME is set"
                .to_string()
        })?;
        let path = dir.join(format!("{id}.key"));
        let text = files::read_document(&path)
            .map_err(|err| format!("its key {} cannot be read: {err}", path.display()))?;
        let secret = hex::decode(String::from_utf8_lossy(&text).trim())
            .map_err(|_| format!("its key {} is not a hikkonuki key", path.display()))?;
        Ok(RollbackKey {
            id: id.to_string(),
            secret,
        })
    }
}

/// How far a rollback file had got when hikkonuki last closed it on this machine: the number and code of
/// its last entry. An HMAC chain proves every entry came after the one before, not that none came after
/// the last: entries cut off the end (restore's own among them) or an older copy of the file verify as
/// well, and would have restore undo again what it had restored, or `watch --recut` cut it again. So the
/// mark is kept beside the keys, where the file's directory cannot reach, and a file behind it refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadMark {
    pub seq: u64,
    pub mac: String,
}

impl KeyStore {
    /// Where the mark of the file whose header carries `header_mac` is kept: `heads/` in the key
    /// directory. `None` without a key directory (a key given only by environment), or for a code
    /// hikkonuki never writes.
    pub fn head_path(&self, header_mac: &str) -> Option<PathBuf> {
        let valid = header_mac.len() == MAC_HEX_CHARS
            && header_mac
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let dir = self.dir.as_ref()?;
        valid.then(|| dir.join("heads").join(&header_mac[..32]))
    }
}

/// Hex characters of an HMAC-SHA256 code.
const MAC_HEX_CHARS: usize = 64;

/// The mark at `path`, if one was written; a mark that cannot be read is none.
pub fn read_head(path: &Path) -> Option<HeadMark> {
    let text = files::read_document(path).ok()?;
    let text = String::from_utf8(text).ok()?;
    let (seq, mac) = text.trim().split_once(' ')?;
    Some(HeadMark {
        seq: seq.parse().ok()?,
        mac: mac.to_string(),
    })
}

/// Records `mark` at `path` (a new file renamed over the old, so a crash leaves one or the other).
/// Written only once the entries it names are on disk, so it is never ahead of the file.
pub fn write_head(path: &Path, mark: &HeadMark) -> std::io::Result<()> {
    let dir = path.parent().expect("a head path is in heads/");
    files::create_private_dir_all(dir)?;
    let temporary = path.with_extension("new");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(format!("{} {}\n", mark.seq, mark.mac).as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_key_is_private_and_found_again_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::in_dir(&dir.path().join("keys"));
        let key = store.new_key().unwrap();
        let path = dir.path().join("keys").join(format!("{}.key", key.id));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(dir.path().join("keys"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let again = store.key(&key.id).unwrap();
        let code = key.mac("", "body");
        assert!(again.verify("", "body", &code));
        assert!(!again.verify("", "body!", &code));
        assert!(!again.verify("x", "body", &code));
    }

    #[test]
    fn key_ids_from_a_file_cannot_name_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::in_dir(dir.path());
        for id in [
            "../../etc/passwd",
            "",
            "ABCDEF0123456789ABCDEF0123456789",
            "env-../x",
        ] {
            assert!(store.key(id).unwrap_err().contains("never writes"), "{id}");
        }
    }

    #[test]
    fn an_environment_key_must_be_long_and_must_be_the_same_one() {
        let short = KeyStore {
            dir: None,
            env_key: Some(b"short".to_vec()),
        };
        assert!(short.new_key().unwrap_err().contains("shorter than 32"));
        let store = KeyStore {
            dir: None,
            env_key: Some(vec![b'k'; 40]),
        };
        let key = store.new_key().unwrap();
        assert!(key.id.starts_with("env-"));
        assert!(store.key(&key.id).is_ok());
        let other = KeyStore {
            dir: None,
            env_key: Some(vec![b'q'; 40]),
        };
        assert!(other.key(&key.id).unwrap_err().contains("is another"));
    }
}
