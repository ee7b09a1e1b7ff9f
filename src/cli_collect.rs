//! `cdwiz collect --profile P [-o FILE]`: the support archive
//! (`cdwiz::collect`), with a line per host as it is done.

use std::path::{Path, PathBuf};

use cdwiz::collect::{CollectRequest, HostCollected};
use cdwiz::i18n::Msg;

use crate::headless::{EXIT_OK, bad_input};

/// Exit 0 with the archive written (unreachable hosts are listed in it and
/// said here), 2 for bad input, 1 when it could not be written.
pub async fn run(
    profile: PathBuf,
    out: Option<PathBuf>,
    workdir: Option<PathBuf>,
    locale: &str,
) -> u8 {
    let answers = match cdwiz::profile::load_file(&profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let on_cluster = answers.topology.kind == cdwiz::profile::TopologyKind::K8s;
    let data_dir = cdwiz::paths::data_dir();
    let out = out.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut a = answers.clone();
        cdwiz::installation::adopt(&data_dir, &mut a);
        PathBuf::from(format!(
            "cdwiz-collect-{}-{now}.tar.gz",
            cdwiz::profile::install_id(&a)
        ))
    });
    let req = CollectRequest {
        answers,
        base: profile.parent().unwrap_or(Path::new(".")).to_path_buf(),
        runs: workdir.unwrap_or_else(|| data_dir.clone()),
        data_dir,
        profile,
        secrets: None,
        out,
        locale: locale.to_string(),
    };
    let progress = |h: &HostCollected| {
        let m = match &h.unreachable {
            None => Msg::new("collect.host")
                .arg("host", &h.address)
                .arg("files", h.files),
            Some(why) => Msg::new("collect.host-unreachable")
                .arg("host", &h.address)
                .arg_msg("why", why.clone()),
        };
        eprintln!("{}", m.render(locale));
    };
    match cdwiz::collect::collect(req, &progress).await {
        Ok(c) => {
            let unreachable = c.hosts.iter().filter(|h| h.unreachable.is_some()).count();
            let key = if on_cluster {
                "collect.done-cluster"
            } else {
                "collect.done"
            };
            let m = Msg::new(key)
                .arg("file", c.file.display())
                .arg("kib", c.size / 1024)
                .arg("hosts", c.hosts.len() - unreachable)
                .arg("unreachable", unreachable)
                .arg("files", c.hosts.iter().map(|h| h.files).sum::<usize>())
                .arg("local", c.local_files);
            println!("{}", m.render(locale));
            EXIT_OK
        }
        Err(e) if e.kind == cdwiz::run::ErrorKind::BadInput => bad_input(&e.lines),
        Err(e) => {
            for l in &e.lines {
                eprintln!("{}", crate::error_line(locale, l));
            }
            1
        }
    }
}
