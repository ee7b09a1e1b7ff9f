//! The Welcome screen's choices: new or continue, resume, status,
//! uninstall, quit.

use super::{App, Command, DeployView, Screen};

impl App {
    /// The Welcome screen's actions, in order (catalogue keys).
    pub fn welcome_actions(&self) -> Vec<&'static str> {
        let mut v = vec![if self.profile.is_some() {
            "wizard.welcome.action-continue"
        } else {
            "wizard.welcome.action-new"
        }];
        if self.resumable.is_some() {
            v.push("wizard.welcome.action-resume");
        }
        if self.profile.is_some() {
            v.push("wizard.welcome.action-status");
            v.push("wizard.welcome.action-uninstall");
        }
        v.push("wizard.welcome.action-quit");
        v
    }

    /// Enter on the Welcome screen.
    pub fn welcome_choose(&mut self) -> Option<Command> {
        let actions = self.welcome_actions();
        match actions.get(self.welcome_row).copied() {
            Some("wizard.welcome.action-resume") => {
                let (dir, _) = self.resumable.clone()?;
                self.screen = Screen::Deploy;
                self.deploy = DeployView {
                    running: true,
                    ..Default::default()
                };
                Some(Command::Resume(dir))
            }
            Some("wizard.welcome.action-status") if !self.busy => {
                self.busy = true;
                self.status = None;
                self.message = Some(self.t("wizard.welcome.status-asking"));
                Some(Command::Status)
            }
            Some("wizard.welcome.action-status") => None,
            Some("wizard.welcome.action-uninstall") if !self.busy => {
                self.busy = true;
                self.message = Some(self.t("wizard.welcome.uninstalling"));
                Some(Command::Uninstall)
            }
            Some("wizard.welcome.action-quit") => Some(Command::Quit),
            Some("wizard.welcome.action-uninstall") => None,
            _ => self.next(),
        }
    }
}
