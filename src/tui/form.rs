//! Form fields over `ratatui-textarea`: single-line and multi-line text,
//! masked passwords, toggles, and a Next button at the end of each form.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    Multi,
    Masked,
    Toggle,
}

pub struct Field {
    /// The field path in the profile (validation problems are matched on it).
    pub path: &'static str,
    /// Catalogue key of the label.
    pub label: &'static str,
    pub kind: Kind,
    pub input: TextArea<'static>,
    pub checked: bool,
}

impl Field {
    fn with(path: &'static str, label: &'static str, kind: Kind, value: &str) -> Field {
        let mut input = TextArea::new(value.lines().map(str::to_string).collect());
        if input.lines().is_empty() {
            input = TextArea::default();
        }
        input.move_cursor(ratatui_textarea::CursorMove::Bottom);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        if kind == Kind::Masked {
            input.set_mask_char('•');
        }
        Field {
            path,
            label,
            kind,
            input,
            checked: false,
        }
    }
    pub fn line(path: &'static str, label: &'static str, value: &str) -> Field {
        Field::with(path, label, Kind::Line, value)
    }
    pub fn multi(path: &'static str, label: &'static str, value: &str) -> Field {
        Field::with(path, label, Kind::Multi, value)
    }
    pub fn masked(path: &'static str, label: &'static str) -> Field {
        Field::with(path, label, Kind::Masked, "")
    }
    pub fn toggle(path: &'static str, label: &'static str, checked: bool) -> Field {
        let mut f = Field::with(path, label, Kind::Toggle, "");
        f.checked = checked;
        f
    }

    pub fn value(&self) -> String {
        self.input.lines().join("\n").trim().to_string()
    }
}

#[derive(Default)]
pub struct Form {
    pub fields: Vec<Field>,
    /// Index of the focused field; `fields.len()` is the Next button.
    pub focus: usize,
}

/// What a key did to a form.
#[derive(Debug, PartialEq, Eq)]
pub enum FormKey {
    /// The field's content changed.
    Edited,
    Moved,
    /// Enter on the Next button.
    Next,
    Ignored,
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Form {
        Form { fields, focus: 0 }
    }

    pub fn get(&self, path: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.path == path)
    }

    pub fn on_button(&self) -> bool {
        self.focus >= self.fields.len()
    }

    pub fn focus_next_button(&mut self) {
        self.focus = self.fields.len();
    }

    /// A text field has the keyboard.
    pub fn typing(&self) -> bool {
        self.fields
            .get(self.focus)
            .is_some_and(|f| f.kind != Kind::Toggle)
    }

    /// The focused field is a text field with nothing in it yet.
    pub fn typing_into_empty(&self) -> bool {
        self.fields
            .get(self.focus)
            .is_some_and(|f| f.kind != Kind::Toggle && f.value().is_empty())
    }

    fn move_focus(&mut self, forward: bool) {
        let n = self.fields.len() + 1;
        self.focus = if forward {
            (self.focus + 1) % n
        } else {
            (self.focus + n - 1) % n
        };
    }

    pub fn on_key(&mut self, mut key: KeyEvent) -> FormKey {
        // A line feed (Ctrl-J, as some terminals and tmux send it) is Enter.
        if key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL) {
            key = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        }
        match key.code {
            KeyCode::Tab => {
                self.move_focus(true);
                return FormKey::Moved;
            }
            KeyCode::BackTab => {
                self.move_focus(false);
                return FormKey::Moved;
            }
            _ => {}
        }
        let Some(field) = self.fields.get_mut(self.focus) else {
            return match key.code {
                KeyCode::Enter => FormKey::Next,
                KeyCode::Up | KeyCode::Char('k') => {
                    self.move_focus(false);
                    FormKey::Moved
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    self.move_focus(true);
                    FormKey::Moved
                }
                _ => FormKey::Ignored,
            };
        };
        match (field.kind, key.code) {
            (Kind::Toggle, KeyCode::Char(' ')) => {
                field.checked = !field.checked;
                FormKey::Edited
            }
            (Kind::Toggle | Kind::Line | Kind::Masked, KeyCode::Enter | KeyCode::Down) => {
                self.move_focus(true);
                FormKey::Moved
            }
            (Kind::Toggle | Kind::Line | Kind::Masked, KeyCode::Up) => {
                self.move_focus(false);
                FormKey::Moved
            }
            (Kind::Toggle, KeyCode::Char('j')) => {
                self.move_focus(true);
                FormKey::Moved
            }
            (Kind::Toggle, KeyCode::Char('k')) => {
                self.move_focus(false);
                FormKey::Moved
            }
            (Kind::Toggle, _) => FormKey::Ignored,
            // Ctrl-M and friends are not text.
            (_, KeyCode::Char(_)) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                FormKey::Ignored
            }
            _ => {
                if field.input.input(key) {
                    FormKey::Edited
                } else {
                    FormKey::Ignored
                }
            }
        }
    }

    /// Pasted text goes into the focused text field (many lines at once in
    /// a multi-line field: a pasted list of IPs).
    pub fn paste(&mut self, text: &str) -> bool {
        match self.fields.get_mut(self.focus) {
            Some(f) if f.kind == Kind::Multi => f.input.insert_str(text),
            Some(f) if matches!(f.kind, Kind::Line | Kind::Masked) => {
                f.input.insert_str(text.lines().next().unwrap_or(""))
            }
            _ => false,
        }
    }
}
