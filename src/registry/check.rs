//! `k8s.registry`, before anything is applied: the registry answers over
//! the protocol the profile says, trusts cdwiz's credentials (or its
//! anonymity) and lets it push, and how much of the bundle it lacks. The
//! distribution API has no question for free space, so the check says so
//! instead of guessing. With `images: present` it asks that every image is
//! there instead.

use std::path::Path;

use crate::bundle::Bundle;
use crate::checks::{CheckResult, Status};
use crate::i18n::Msg;
use crate::profile::{Answers, ImageDelivery};

use super::{Registry, RegistryError, mb, survey};

const ID: &str = "k8s.registry";

fn r(status: Status, detail: Msg) -> CheckResult {
    CheckResult::new(ID, None, status, detail)
}

fn m(key: &str) -> Msg {
    Msg::new(format!("check.k8s.registry.{key}"))
}

fn failed(e: &RegistryError, reg: &Registry) -> CheckResult {
    let mut res = r(Status::Fail, e.message(&reg.prefix, reg.user.as_deref()));
    if let Some(h) = e.hint(&reg.prefix) {
        res = res.hint(h);
    }
    res
}

/// The check for `answers` and `bundle` (`base`: the profile's directory).
pub async fn check(
    answers: &Answers,
    base: &Path,
    bundle: &Bundle,
    password: Option<&str>,
) -> CheckResult {
    let res = check_registry(answers, base, bundle, password).await;
    in_clear(res, &answers.topology)
}

/// Plain HTTP carries the registry user's password in clear: a passing
/// check says so, as a warning, every time the checks run.
fn in_clear(res: CheckResult, t: &crate::profile::Topology) -> CheckResult {
    if res.status == Status::Pass && t.registry_http && t.registry_user.is_some() {
        return CheckResult {
            status: Status::Warn,
            ..res
        }
        .hint(m("clear-text"));
    }
    res
}

async fn check_registry(
    answers: &Answers,
    base: &Path,
    bundle: &Bundle,
    password: Option<&str>,
) -> CheckResult {
    let t = &answers.topology;
    let (wanted, files) = super::cluster_images(bundle);
    let delivery = t.image_delivery();
    if delivery == ImageDelivery::Nodes {
        let nodes: Vec<&str> = answers.hosts.iter().map(|h| h.address.as_str()).collect();
        return r(
            Status::Pass,
            m("nodes")
                .arg("count", nodes.len())
                .arg("nodes", nodes.join(", ")),
        );
    }
    let reg = match Registry::of(t, base, password) {
        Ok(Some(reg)) => reg,
        Ok(None) if files.is_empty() || delivery == ImageDelivery::Present => {
            return r(Status::Pass, m("present-unchecked"));
        }
        Ok(None) => return r(Status::Fail, m("none")).hint(m("none-hint")),
        Err(msg) => return r(Status::Fail, msg),
    };
    if files.is_empty() {
        return r(Status::Pass, m("no-images"));
    }
    let plan = match survey(&reg, &files, &wanted, delivery == ImageDelivery::Push).await {
        Ok(p) => p,
        Err(e) => return failed(&e, &reg),
    };
    let count = plan.targets.len();
    if delivery == ImageDelivery::Present {
        let absent: Vec<&str> = plan
            .targets
            .iter()
            .filter(|t| !t.present)
            .map(|t| t.image.as_str())
            .collect();
        return if absent.is_empty() {
            r(
                Status::Pass,
                m("present")
                    .arg("count", count)
                    .arg("registry", &reg.prefix),
            )
        } else {
            r(
                Status::Fail,
                m("absent")
                    .arg("registry", &reg.prefix)
                    .arg("count", absent.len())
                    .arg("images", absent.join(", ")),
            )
            .hint(m("absent-hint"))
        };
    }
    if plan.nothing_to_do() {
        return r(
            Status::Pass,
            m("up-to-date")
                .arg("count", count)
                .arg("registry", &reg.prefix),
        );
    }
    // May these credentials push? Asked by mounting a blob of the bundle
    // into its own repository: the registry answers 201 (it has it), 202
    // (an upload may begin: allowed) or 401/403, and nothing is written.
    let probe = plan
        .targets
        .iter()
        .find(|t| !t.up_to_date)
        .and_then(|t| Some((t, t.images.first()?)));
    if let Some((t, img)) = probe {
        match reg
            .client
            .mount_blob(&t.reference, &t.reference, &img.config.digest)
            .await
        {
            Ok(()) => {}
            Err(oci_client::errors::OciDistributionError::SpecViolationError(_)) => {}
            Err(e) => {
                let err = RegistryError::from_oci(&e);
                if matches!(
                    err,
                    RegistryError::Refused(_)
                        | RegistryError::Denied(_)
                        | RegistryError::Untrusted(_)
                ) {
                    return failed(&err, &reg);
                }
            }
        }
    }
    r(
        Status::Pass,
        m("ok")
            .arg("registry", &reg.prefix)
            .arg("count", count)
            .arg("send", mb(plan.send))
            .arg("total", mb(plan.bytes))
            .arg("missing", plan.blobs_missing)
            .arg("blobs", plan.blobs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Topology, TopologyKind};

    #[test]
    fn a_password_over_plain_http_is_a_warning() {
        let ok = || r(Status::Pass, m("up-to-date"));
        let mut t = Topology::of(TopologyKind::K8s);
        t.registry_http = true;
        assert_eq!(in_clear(ok(), &t).status, Status::Pass, "anonymous");
        t.registry_user = Some("cd-pusher".into());
        let warned = in_clear(ok(), &t);
        assert_eq!(warned.status, Status::Warn);
        assert!(warned.hint.unwrap().render("en").contains("in clear"));
        t.registry_http = false;
        assert_eq!(in_clear(ok(), &t).status, Status::Pass, "TLS");
    }
}
