//! Identity key files: `<data-dir>/keys/<name>.key` holds the 32-byte Ed25519 seed in hex
//! (mode 0600, in a 0700 directory), `<name>.pub` the key id. Keys are made on first use (at
//! `init` or the first `run`) and never logged.
//!
//! Names: `member` (this API server member), `controllers` (the controller manager), `agents`
//! (the in-process node agent pool; node `n`'s key is `SecretKey::derive(n)` of it).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mock_k8_nko::encode::{hex, unhex};
use mock_k8_nko::keys::{PublicKey, SecretKey};

/// The member key's name.
pub const MEMBER: &str = "member";
/// The controller manager key's name.
pub const CONTROLLERS: &str = "controllers";
/// The node agent pool's key name (each node's key is derived from it by node name).
pub const AGENTS: &str = "agents";

/// `<data-dir>/keys`.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Reads key `name` from `data_dir`, generating and storing it first when it does not exist.
///
/// # Errors
/// I/O errors, a corrupt key file, or a key file readable by others (mode not 0600).
pub fn load_or_create(data_dir: &Path, name: &str) -> io::Result<SecretKey> {
    let dir = keys_dir(data_dir);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let path = dir.join(format!("{name}.key"));
    match fs::read_to_string(&path) {
        Ok(text) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(io::Error::other(format!(
                    "{} is accessible by others (mode {mode:o}); it must be 0600",
                    path.display()
                )));
            }
            let seed = unhex::<32>(text.trim())
                .ok_or_else(|| io::Error::other(format!("{} is not a key", path.display())))?;
            Ok(SecretKey::from_seed(&seed))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = SecretKey::generate().map_err(|e| io::Error::other(e.to_string()))?;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            f.write_all(format!("{}\n", hex(&key.seed())).as_bytes())?;
            f.sync_all()?;
            fs::write(
                dir.join(format!("{name}.pub")),
                format!("{}\n", key.public().id()),
            )?;
            fs::File::open(&dir)?.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// The public key `name` in `data_dir`, from its `.pub` file (None when there is none).
///
/// # Errors
/// I/O errors other than not-found, or a malformed file.
pub fn read_public(data_dir: &Path, name: &str) -> io::Result<Option<PublicKey>> {
    let path = keys_dir(data_dir).join(format!("{name}.pub"));
    match fs::read_to_string(&path) {
        Ok(t) => PublicKey::from_id(&t)
            .map(Some)
            .ok_or_else(|| io::Error::other(format!("{} is not a key id", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_should_be_created_owner_only_and_reloaded() {
        let dir = tempfile::TempDir::new().unwrap();
        let k = load_or_create(dir.path(), MEMBER).unwrap();
        let path = keys_dir(dir.path()).join("member.key");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            load_or_create(dir.path(), MEMBER).unwrap().public(),
            k.public()
        );
        assert_eq!(read_public(dir.path(), MEMBER).unwrap(), Some(k.public()));
        assert_eq!(read_public(dir.path(), CONTROLLERS).unwrap(), None);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(dir.path(), MEMBER).is_err());
    }
}
