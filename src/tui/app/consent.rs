//! What a loaded profile takes from this machine without the operator's
//! consent yet (variables outside `CDWIZ_*`, files outside its folder):
//! asked about before anything else, answered for this session.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Command};
use cdwiz::profile::sources::SourceKind;

impl App {
    /// Lists what the loaded answers take unconsented (the dialog opens
    /// when there is any).
    pub(super) fn ask_consent(&mut self) {
        self.consent = cdwiz::profile::sources::unconsented(&self.answers, &self.profile_dir());
    }

    /// The dialog's keys: `y` trusts every source listed (for this
    /// session), `n`, Esc, `q` or Ctrl-C leave; nothing else passes.
    pub(super) fn on_consent_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                for s in std::mem::take(&mut self.consent) {
                    match s.from.strip_prefix("env ") {
                        Some(var) if s.kind == SourceKind::Env => cdwiz::consent::allow_env(var),
                        _ => cdwiz::consent::trust(std::path::Path::new(&s.from)),
                    }
                }
                self.validate();
                None
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                Some(Command::Quit)
            }
            KeyCode::Char('c') if ctrl => Some(Command::Quit),
            _ => None,
        }
    }
}
