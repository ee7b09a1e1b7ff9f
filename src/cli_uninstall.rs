//! `cdwiz uninstall --profile P [--purge --yes]`: the platform off the
//! profile's hosts (or out of its namespace), data kept unless purged.

use std::path::Path;
use std::sync::Arc;

use cdwiz::bundle::Bundle;
use cdwiz::connect::{Connector, resolve_secrets};
use cdwiz::pipeline;
use cdwiz::profile::Answers;

use crate::headless::{EXIT_DEPLOY_FAILED, EXIT_OK, bad_input, problems_text};

/// `cdwiz uninstall --profile P [--purge --yes]`: exit 0 when every host is
/// clean, 4 when a host could not be reached (the others are cleaned).
pub async fn run(profile: &Path, purge: bool, yes: bool, locale: &str) -> u8 {
    if purge && !yes {
        return bad_input(&[cdwiz::i18n::text("headless.purge-needs-yes", locale)]);
    }
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let base = profile.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dir = pipeline::bundle_dir(&answers, &base, &data_dir);
    let manifest = match Bundle::open(&dir) {
        Ok(b) => b.manifest,
        Err(e) => {
            return bad_input(&[format!(
                "{}: {}",
                profile.display(),
                e.message().render(locale)
            )]);
        }
    };
    if answers.topology.kind == cdwiz::profile::TopologyKind::K8s {
        return k8s_uninstall(&answers, &base, purge, locale).await;
    }
    let secrets = match resolve_secrets(&answers, &base) {
        Ok(s) => s,
        Err(p) => return bad_input(&problems_text(profile, &p, locale)),
    };
    let askpass = cdwiz::connect::askpass_program();
    let connector = Arc::new(Connector::new(&answers, secrets, &data_dir, askpass));
    let results = cdwiz::deploy::uninstall(&answers, &manifest, connector, purge).await;
    let mut unreachable = 0;
    for r in &results {
        let line = match &r.skipped {
            Some(why) => {
                unreachable += 1;
                cdwiz::i18n::Msg::new("headless.uninstall-skipped")
                    .arg("host", &r.host)
                    .arg("why", why)
            }
            None => cdwiz::i18n::Msg::new(if r.data_removed {
                "headless.uninstalled-purged"
            } else {
                "headless.uninstalled"
            })
            .arg("host", &r.host)
            .arg("containers", r.containers_removed),
        };
        println!("{}", line.render(locale));
        if r.key_removed {
            let key = cdwiz::i18n::Msg::new("headless.key-removed").arg("host", &r.host);
            println!("{}", key.render(locale));
        }
    }
    if unreachable > 0 {
        EXIT_DEPLOY_FAILED
    } else {
        EXIT_OK
    }
}

/// Uninstall from a cluster: what carries this installation's label.
async fn k8s_uninstall(answers: &Answers, base: &Path, purge: bool, locale: &str) -> u8 {
    let ns = answers.topology.namespace.clone().unwrap_or_default();
    let clients = match cdwiz::deploy::k8s::Clients::connect(answers, base).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.render(locale));
            return EXIT_DEPLOY_FAILED;
        }
    };
    match cdwiz::deploy::k8s::uninstall(answers, &clients.api, purge).await {
        Ok(removed) if removed.is_empty() => {
            let line = cdwiz::i18n::Msg::new("headless.k8s-uninstall-nothing").arg("ns", &ns);
            println!("{}", line.render(locale));
            EXIT_OK
        }
        Ok(removed) => {
            for (kind, names) in &removed {
                let line = cdwiz::i18n::Msg::new("headless.k8s-uninstalled")
                    .arg("kind", kind)
                    .arg("names", names.join(", "))
                    .arg("ns", &ns);
                println!("{}", line.render(locale));
            }
            if !purge {
                let line = cdwiz::i18n::Msg::new("headless.k8s-data-kept").arg("ns", &ns);
                println!("{}", line.render(locale));
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{}", e.render(locale));
            EXIT_DEPLOY_FAILED
        }
    }
}
