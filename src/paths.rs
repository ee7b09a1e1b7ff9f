//! Where cdwiz keeps its files: the per-user data directory (runs, sandbox
//! instances, the cached sandbox images' build area).

use std::path::PathBuf;

/// A bundle's manifest, at the top of its folder (every reader of a
/// bundle, and the binary looking for the one beside it).
pub const BUNDLE_MANIFEST: &str = "manifest.yaml";

/// Environment variable that overrides the data directory (tests, CI, demos).
pub const DATA_DIR_ENV: &str = "CDWIZ_DATA_DIR";

/// The data directory: `$CDWIZ_DATA_DIR`, else the platform's data dir
/// (`~/.local/share/cdwiz` on Linux), else `./.cdwiz`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "cdwiz")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".cdwiz"))
}

/// A short directory for SSH control sockets: their paths must stay under the
/// 108-byte limit of a unix socket address, which a deep data dir can exceed.
pub fn runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// `~/x` → `$HOME/x`; other paths unchanged.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The bundle an offline installer carries: the folder of the running
/// cdwiz, when it holds a bundle manifest (`cdwiz bundle pack` puts them
/// together).
pub fn bundle_beside_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    dir.join(BUNDLE_MANIFEST)
        .is_file()
        .then(|| dir.to_path_buf())
}

/// Where `command` is found on `PATH`, if it is.
pub fn on_path(command: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(command))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}
