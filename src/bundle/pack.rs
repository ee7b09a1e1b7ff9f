//! `cdwiz bundle pack`: the one file an engineer carries to an air-gapped
//! site: a `.tar.gz` whose single top folder holds the bundle (manifest,
//! image archives, templates), a cdwiz binary for the operator's machine
//! and a README in English and Chinese. Unpacked, `./cdwiz` finds the
//! bundle beside itself (`crate::paths::bundle_beside_binary`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::{Bundle, MANIFEST_FILE};
use crate::i18n::Msg;

/// What to pack.
pub struct PackRequest<'a> {
    /// The bundle directory (checked as `bundle verify` does first).
    pub dir: &'a Path,
    /// The file to write; none: `<product>-<version>-linux-<arch>.tar.gz`
    /// in the current directory.
    pub out: Option<&'a Path>,
    /// The cdwiz binary to carry; none: this one.
    pub binary: Option<&'a Path>,
}

/// What was packed.
#[derive(Debug)]
pub struct Packed {
    pub file: PathBuf,
    /// The folder the file unpacks into.
    pub top: String,
    /// The operator's machine the binary is for: `amd64` or `arm64`.
    pub arch: String,
    /// The newest glibc symbol version the binary needs (none: static).
    pub glibc: Option<String>,
    pub size: u64,
}

/// Why nothing was packed.
#[derive(Debug)]
pub enum PackError {
    /// The bundle or the binary is not fit to ship: every problem.
    Input(Vec<Msg>),
    /// Writing failed.
    Failed(Msg),
}

/// Packs the bundle; progress gets bytes read of the bundle and binary,
/// and their total.
pub fn pack(req: &PackRequest<'_>, progress: &dyn Fn(u64, u64)) -> Result<Packed, PackError> {
    let binary = match req.binary {
        Some(b) => b.to_path_buf(),
        None => std::env::current_exe().map_err(|e| {
            PackError::Failed(Msg::new("bundle.io").arg("path", "cdwiz").arg("error", e))
        })?,
    };
    // Every problem of the bundle and the binary at once.
    let mut problems = super::verify::verify(req.dir).err().unwrap_or_default();
    let facts = binary_facts(&binary).map_err(|m| problems.push(m));
    let (Ok((arch, glibc)), true) = (facts, problems.is_empty()) else {
        return Err(PackError::Input(problems));
    };
    let bundle = Bundle::open(req.dir).map_err(|e| PackError::Input(vec![e.message()]))?;
    let product = &bundle.manifest.product;
    let file = match req.out {
        Some(o) => o.to_path_buf(),
        None => PathBuf::from(format!(
            "{}-{}-linux-{arch}.tar.gz",
            product.name, product.version
        )),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let top = name
        .strip_suffix(".tar.gz")
        .or_else(|| name.strip_suffix(".tgz"))
        .filter(|t| !t.is_empty() && !t.starts_with('.'))
        .ok_or_else(|| {
            PackError::Input(vec![
                Msg::new("bundle.pack.name").arg("file", file.display()),
            ])
        })?
        .to_string();
    let readme = readme(&bundle, &top, &arch, glibc.as_deref());
    let mut files = Vec::new();
    collect(req.dir, Path::new(""), &mut files).map_err(|e| io(req.dir, e))?;
    let total = files
        .iter()
        .map(|f| {
            std::fs::metadata(req.dir.join(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>()
        + std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    let partial = file.with_file_name(format!(".{name}.partial"));
    let written = write(
        &partial, &top, &readme, &binary, req.dir, &files, total, progress,
    );
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(PackError::Failed(e));
    }
    std::fs::rename(&partial, &file).map_err(|e| io(&file, e))?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Packed {
        file,
        top,
        arch,
        glibc,
        size,
    })
}

fn io(path: &Path, e: std::io::Error) -> PackError {
    PackError::Failed(
        Msg::new("bundle.io")
            .arg("path", path.display())
            .arg("error", e),
    )
}

/// The bundle's files to carry, relative to its folder, sorted: all but
/// hidden ones (a build's leftovers, the sandbox's recipe stamp).
fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = rel.join(&name);
        let kind = e.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write(
    partial: &Path,
    top: &str,
    readme: &str,
    binary: &Path,
    dir: &Path,
    files: &[PathBuf],
    total: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<(), Msg> {
    let fail = |path: &Path, e: std::io::Error| {
        Msg::new("bundle.io")
            .arg("path", path.display())
            .arg("error", e)
    };
    let out = std::fs::File::create(partial).map_err(|e| fail(partial, e))?;
    let gz = GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, out),
        Compression::new(6),
    );
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let header = |mode: u32, size: u64, kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h
    };
    let top = Path::new(top);
    let mut done = 0u64;
    let mut add = |tar: &mut tar::Builder<_>, from: &Path, to: &Path, mode: u32| {
        let file = std::fs::File::open(from).map_err(|e| fail(from, e))?;
        let size = file.metadata().map_err(|e| fail(from, e))?.len();
        let mut counted = Progress {
            inner: file,
            done: &mut done,
            total,
            progress,
        };
        tar.append_data(
            &mut header(mode, size, tar::EntryType::Regular),
            top.join(to),
            &mut counted,
        )
        .map_err(|e| fail(partial, e))
    };
    tar.append_data(
        &mut header(0o755, 0, tar::EntryType::Directory),
        top,
        std::io::empty(),
    )
    .map_err(|e| fail(partial, e))?;
    tar.append_data(
        &mut header(0o644, readme.len() as u64, tar::EntryType::Regular),
        top.join("README.md"),
        readme.as_bytes(),
    )
    .map_err(|e| fail(partial, e))?;
    add(&mut tar, binary, Path::new("cdwiz"), 0o755)?;
    for f in files {
        add(&mut tar, &dir.join(f), f, 0o644)?;
    }
    let gz = tar.into_inner().map_err(|e| fail(partial, e))?;
    let mut buf = gz.finish().map_err(|e| fail(partial, e))?;
    buf.flush().map_err(|e| fail(partial, e))?;
    buf.into_inner()
        .map_err(|e| fail(partial, e.into_error()))?
        .sync_all()
        .map_err(|e| fail(partial, e))
}

/// A reader that reports bytes read, every 32 MiB.
struct Progress<'a, R> {
    inner: R,
    done: &'a mut u64,
    total: u64,
    progress: &'a dyn Fn(u64, u64),
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = *self.done;
        *self.done += n as u64;
        if before >> 25 != *self.done >> 25 {
            (self.progress)(*self.done, self.total);
        }
        Ok(n)
    }
}

/// The binary's architecture (from its ELF header) and the newest glibc
/// symbol version it needs (`GLIBC_2.34`-like names in its dynamic string
/// table; none for a static binary).
pub fn binary_facts(binary: &Path) -> Result<(String, Option<String>), Msg> {
    let bytes = std::fs::read(binary).map_err(|e| {
        Msg::new("bundle.io")
            .arg("path", binary.display())
            .arg("error", e)
    })?;
    let not_for = || Msg::new("bundle.pack.not-linux").arg("file", binary.display());
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
        return Err(not_for());
    }
    let arch = match u16::from_le_bytes([bytes[18], bytes[19]]) {
        62 => "amd64",
        183 => "arm64",
        _ => return Err(not_for()),
    };
    Ok((arch.to_string(), newest_glibc(&bytes)))
}

/// The highest `GLIBC_x.y[.z]` named in `bytes`.
fn newest_glibc(bytes: &[u8]) -> Option<String> {
    const TAG: &[u8] = b"GLIBC_";
    let mut best: Option<Vec<u32>> = None;
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(TAG.len()).position(|w| w == TAG) {
        let start = i + at + TAG.len();
        let end = bytes[start..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .map_or(bytes.len(), |n| start + n);
        let version: Option<Vec<u32>> = std::str::from_utf8(&bytes[start..end])
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| v.split('.').filter_map(|p| p.parse().ok()).collect());
        if let Some(v) = version.filter(|v| v.len() >= 2)
            && best.as_ref().is_none_or(|b| v > *b)
        {
            best = Some(v);
        }
        i = end.max(start);
    }
    best.map(|v| {
        let parts: Vec<String> = v.iter().map(u32::to_string).collect();
        parts.join(".")
    })
}

/// The README at the top of the packed file, English then Chinese.
fn readme(bundle: &Bundle, top: &str, arch: &str, glibc: Option<&str>) -> String {
    let p = &bundle.manifest.product;
    let archs = bundle.manifest.architectures().join(", ");
    let glibc_en = glibc.map_or("none (a static binary)".to_string(), |g| {
        format!("glibc {g} or newer")
    });
    let glibc_zh = glibc.map_or("无（静态链接）".to_string(), |g| {
        format!("glibc {g} 或更高版本")
    });
    format!(
        "# {name} {version}: offline installer\n\n\
         This folder is all an air-gapped install needs: `cdwiz` (the installer, for \
         linux/{arch} machines), the product bundle beside it (`{manifest}`, `images/` for \
         {archs} hosts) and nothing to download.\n\n\
         ## Two commands\n\n\
         ```\n\
         tar -xzf {top}.tar.gz && cd {top}\n\
         ./cdwiz\n\
         ```\n\n\
         The second starts the wizard; the bundle beside `cdwiz` is the default. Without \
         a terminal (CI, scripts): `./cdwiz --profile site.yaml --non-interactive`, with \
         `bundle:` left out of the profile (or `bundle: /path/to/{top}`).\n\n\
         ## What the machine running cdwiz needs\n\n\
         - Linux on {arch}, {glibc_en};\n\
         - the OpenSSH client (`ssh`, `ssh-keygen`: package `openssh-client` on \
         Debian/Ubuntu/UOS, `openssh-clients` on CentOS/Rocky/Kylin/openEuler). cdwiz \
         checks for it when it starts.\n\n\
         Check the bundle before use: `./cdwiz bundle verify .`\n\n\
         ---\n\n\
         # {name} {version}：离线安装包\n\n\
         本目录即离线安装所需的全部内容：`cdwiz`（安装程序，适用于 linux/{arch} 机器）、\
         同目录下的产品安装包（`{manifest}`，`images/` 含 {archs} 主机的镜像），无需下载任何内容。\n\n\
         ## 两条命令\n\n\
         ```\n\
         tar -xzf {top}.tar.gz && cd {top}\n\
         ./cdwiz\n\
         ```\n\n\
         第二条命令启动向导，默认使用 `cdwiz` 同目录下的安装包。无终端时（CI、脚本）：\
         `./cdwiz --profile site.yaml --non-interactive`，配置文件中省略 `bundle:`\
         （或写 `bundle: /path/to/{top}`）。\n\n\
         ## 运行 cdwiz 的机器需要\n\n\
         - {arch} 架构的 Linux，{glibc_zh}；\n\
         - OpenSSH 客户端（`ssh`、`ssh-keygen`：Debian/Ubuntu/UOS 上为 `openssh-client` 包，\
         CentOS/Rocky/麒麟/openEuler 上为 `openssh-clients` 包）。cdwiz 启动时会检查。\n\n\
         使用前可检查安装包：`./cdwiz bundle verify .`\n",
        name = p.name,
        version = p.version,
        manifest = MANIFEST_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_glibc_version_is_found() {
        let bytes = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_PRIVATE\0GLIBC_2.17\0GLIBC_2.3.4\0";
        assert_eq!(newest_glibc(bytes).as_deref(), Some("2.34"));
        assert_eq!(newest_glibc(b"static"), None);
    }

    #[test]
    fn this_test_binary_is_a_linux_elf() {
        let (arch, glibc) = binary_facts(&std::env::current_exe().unwrap()).unwrap();
        assert_eq!(
            arch,
            if cfg!(target_arch = "x86_64") {
                "amd64"
            } else {
                "arm64"
            }
        );
        assert!(glibc.is_some());
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("x.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(binary_facts(&script).is_err());
    }
}
