//! `settings.timezone` against the tz database the hosts use: a name the
//! hosts would not know (`Asia/Shanghia`) is refused with the nearest one.

use super::{Answers, Problem};
use crate::i18n::Msg;

/// Every zone and link name of the tz database, as cdwiz ships it.
const ZONES: &str = include_str!("../../../assets/timezones.txt");

fn zones() -> impl Iterator<Item = &'static str> {
    ZONES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether `name` is a zone or link of the tz database.
pub(super) fn known(name: &str) -> bool {
    zones().any(|z| z == name)
}

/// A problem when the answers' time zone is well formed (the pattern
/// judges that) but not one the tz database has.
pub(super) fn timezone(a: &Answers, out: &mut Vec<Problem>) {
    let tz = a.settings.timezone.as_str();
    if crate::pattern::check(crate::pattern::Kind::TimeZone, tz).is_err() || known(tz) {
        return;
    }
    let all: Vec<String> = zones().map(str::to_string).collect();
    let problem = Problem::new(
        "settings.timezone",
        Msg::new("profile.timezone-unknown").arg("value", tz),
    );
    out.push(match crate::profile::messages::closest(tz, &all) {
        Some(best) => problem.hint(Msg::new("profile.did-you-mean").arg("best", best)),
        None => problem.hint(Msg::new("profile.timezone-unknown-hint")),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_the_hosts_know_passes_and_a_misspelt_one_names_the_nearest() {
        for good in ["Asia/Shanghai", "UTC", "Etc/GMT+8", "Asia/Urumqi", "PRC"] {
            assert!(known(good), "{good}");
        }
        let mut a: Answers = serde_yaml::from_str(
            "version: 1\nbundle: b\ntopology: { kind: single }\nhosts: []\n\
             settings: { admin-user: admin, timezone: Asia/Shanghia }\n",
        )
        .unwrap();
        let mut out = Vec::new();
        timezone(&a, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "settings.timezone");
        assert_eq!(out[0].hint.as_ref().unwrap().args["best"], "Asia/Shanghai");
        a.settings.timezone = "Mars/Olympus".into();
        out.clear();
        timezone(&a, &mut out);
        assert_eq!(
            out[0].hint.as_ref().unwrap().key,
            "profile.timezone-unknown-hint"
        );
        a.settings.timezone = "Asia/Shanghai".into();
        out.clear();
        timezone(&a, &mut out);
        assert!(out.is_empty());
    }
}
