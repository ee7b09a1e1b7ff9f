//! Accepting a check's result on the Checks screen: the reason typed, then
//! carried by the report and the saved profile (`accept-checks`).

use cdwiz::checks::Status;
use cdwiz::profile::AcceptCheck;

use super::App;
use crate::tui::screens;

impl App {
    /// Starts typing the reason to accept the selected check's result.
    pub fn start_waiver(&mut self) {
        let Some((id, host)) = screens::checks::selected(self) else {
            return;
        };
        let r = self.checks.results.get(&(id, host));
        if r.is_some_and(|r| matches!(r.status, Status::Fail | Status::Warn) && r.waived.is_none())
        {
            self.waiving = Some(crate::tui::form::Field::line(
                "accept-checks.reason",
                "wizard.checks.reason",
                "",
            ));
        }
    }

    /// Accepts the selected check with the typed reason: it no longer
    /// blocks, the report and the saved profile carry the reason.
    pub fn finish_waiver(&mut self) {
        let Some(field) = self.waiving.take() else {
            return;
        };
        let reason = field.value();
        if reason.is_empty() {
            self.message = Some(self.t("wizard.checks.reason-needed"));
            return;
        }
        let Some((id, host)) = screens::checks::selected(self) else {
            return;
        };
        if let Some(r) = self.checks.results.get_mut(&(id.clone(), host.clone())) {
            r.waived = Some(reason.clone());
            self.answers.accept_checks.push(AcceptCheck {
                check: id,
                host: (host != "*").then_some(host),
                reason,
            });
        }
    }
}
