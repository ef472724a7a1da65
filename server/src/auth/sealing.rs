//! Second-factor secrets at rest: sealed with XChaCha20-Poly1305 under a key that never
//! enters the store, so a copy of the database alone yields no TOTP secret.
//!
//! Keys come from `GATEHOUSE_FACTOR_KEYS` (`id:base64-of-32-bytes`, comma-separated, the
//! first one seals, every one opens), or else from the file `factor-keys` in the data
//! directory, made with one fresh key on first start. Rotation: put a new key first and
//! keep the old ones after it; each secret is sealed again under the new key the next
//! time a code for it is accepted, and an old key can go once nothing is sealed with it.
//! A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext)>`, and the user id is
//! its associated data: a value moved to another account does not open.

use std::{io::Write, path::Path};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const FORMAT: &str = "v1";
pub const KEY_FILE: &str = "factor-keys";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("factor keys: {0}")]
    Config(String),
    #[error("the factor key file: {0}")]
    File(#[from] std::io::Error),
    #[error("a sealed secret names key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("a sealed secret does not open: damaged, or not this user's")]
    Damaged,
    #[error("no randomness: {0}")]
    Random(String),
}

pub struct FactorKeys {
    /// The first one seals.
    keys: Vec<(String, XChaCha20Poly1305)>,
    /// Derived from the first key: tags short-lived codes (see `code_tag`).
    code_key: Hmac<Sha256>,
}

/// What opening a sealed value gave.
pub struct Opened {
    pub plaintext: Vec<u8>,
    /// Sealed under a key that no longer seals: worth sealing again.
    pub stale: bool,
}

impl FactorKeys {
    /// Parses `id:base64,id:base64…`; ids are 1–32 of `a-z`, `0-9`, `-`.
    pub fn parse(text: &str) -> Result<FactorKeys, SealError> {
        let mut keys = Vec::new();
        let mut code_key = None;
        for entry in text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| SealError::Config("each key is `id:base64`".into()))?;
            let id_ok = (1..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(SealError::Config(format!(
                    "key id {id:?}: use 1 to 32 of a-z, 0-9 and '-'"
                )));
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim()))
                .map_err(|_| SealError::Config(format!("key {id:?} is not base64")))?;
            if bytes.len() != KEY_BYTES {
                return Err(SealError::Config(format!(
                    "key {id:?} must be 32 bytes (`openssl rand -base64 32`)"
                )));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(SealError::Config(format!("key id {id:?} appears twice")));
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| SealError::Config(format!("key {id:?} is unusable")))?;
            if code_key.is_none() {
                code_key = Some(derived_key(&bytes, b"gatehouse sign-in codes v1")?);
            }
            keys.push((id.to_owned(), cipher));
        }
        let Some(code_key) = code_key else {
            return Err(SealError::Config("no key given".into()));
        };
        Ok(FactorKeys { keys, code_key })
    }

    /// The configured keys, or those of the data directory's key file (made on first
    /// start, readable by the owner only).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<FactorKeys, SealError> {
        if let Some(text) = configured {
            return FactorKeys::parse(text);
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => FactorKeys::parse(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)?;
                let line = format!("k1:{}\n", STANDARD.encode(random::<KEY_BYTES>()?));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(line.as_bytes())?;
                        file.sync_all()?;
                        tracing::info!(path = %path.display(), "created the factor key file");
                        FactorKeys::parse(&line)
                    }
                    // Another process sharing the directory made it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        FactorKeys::parse(&std::fs::read_to_string(&path)?)
                    }
                    Err(error) => Err(error.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A keyed tag of a short, guessable secret (an 8-digit code mailed to `user_id`):
    /// what the store keeps instead of the code. A plain hash of eight digits falls to
    /// a search of 10^8 in a copy of the database; this one needs the key, which never
    /// enters the store. Made with the first key only: putting a new key first ends the
    /// codes still out (they live ten minutes).
    pub fn code_tag(&self, user_id: &str, code: &str) -> [u8; 32] {
        let mut mac = self.code_key.clone();
        mac.update(user_id.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub fn seal(&self, user_id: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let (id, cipher) = &self.keys[0];
        let nonce_bytes = random::<NONCE_BYTES>()?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        let mut joined = nonce_bytes.to_vec();
        joined.extend_from_slice(&sealed);
        Ok(format!("{FORMAT}.{id}.{}", URL_SAFE_NO_PAD.encode(joined)))
    }

    pub fn open(&self, user_id: &str, sealed: &str) -> Result<Opened, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Damaged);
        };
        let position = self
            .keys
            .iter()
            .position(|(known, _)| known == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let joined = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Damaged)?;
        if joined.len() < NONCE_BYTES {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = joined.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Damaged)?;
        let plaintext = self.keys[position]
            .1
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        Ok(Opened {
            plaintext,
            stale: position != 0,
        })
    }
}

/// A key for one use of a factor key, so that the same bytes never serve two algorithms.
fn derived_key(key: &[u8], purpose: &[u8]) -> Result<Hmac<Sha256>, SealError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| SealError::Config("a factor key is unusable".into()))?;
    mac.update(purpose);
    <Hmac<Sha256> as Mac>::new_from_slice(&mac.finalize().into_bytes())
        .map_err(|_| SealError::Config("a factor key is unusable".into()))
}

fn random<const N: usize>() -> Result<[u8; N], SealError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| SealError::Random(error.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> String {
        format!("{id}:{}", STANDARD.encode([byte; KEY_BYTES]))
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user() {
        let keys = FactorKeys::parse(&key("k1", 7)).unwrap();
        let sealed = keys.seal("u1", b"secret").unwrap();
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("secret"));
        let opened = keys.open("u1", &sealed).unwrap();
        assert_eq!(opened.plaintext, b"secret");
        assert!(!opened.stale);
        assert!(matches!(keys.open("u2", &sealed), Err(SealError::Damaged)));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(
            keys.open("u1", &tampered),
            Err(SealError::Damaged)
        ));
        assert_ne!(
            keys.seal("u1", b"secret").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn after_rotation_old_values_open_and_are_marked_stale() {
        let old = FactorKeys::parse(&key("k1", 1)).unwrap();
        let sealed = old.seal("u1", b"secret").unwrap();
        let rotated = FactorKeys::parse(&format!("{},{}", key("k2", 2), key("k1", 1))).unwrap();
        let opened = rotated.open("u1", &sealed).unwrap();
        assert_eq!(opened.plaintext, b"secret");
        assert!(opened.stale);
        assert!(rotated.seal("u1", b"x").unwrap().starts_with("v1.k2."));
        let without_old = FactorKeys::parse(&key("k2", 2)).unwrap();
        assert!(matches!(
            without_old.open("u1", &sealed),
            Err(SealError::UnknownKey(id)) if id == "k1"
        ));
    }

    #[test]
    fn bad_key_lists_are_refused() {
        for bad in [
            "",
            "k1",
            "k1:short",
            "K1:AAAA",
            &format!("{},{}", key("a", 1), key("a", 2)),
        ] {
            assert!(FactorKeys::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_file_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = FactorKeys::load(None, dir.path()).unwrap();
        let sealed = first.seal("u1", b"secret").unwrap();
        let again = FactorKeys::load(None, dir.path()).unwrap();
        assert_eq!(again.open("u1", &sealed).unwrap().plaintext, b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read it");
        }
    }
}
