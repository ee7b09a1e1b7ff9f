//! What is wrong with a profile: each problem with its field path and, from
//! a file, its line and column, rendered in the operator's language.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::i18n::Msg;

/// One thing wrong with a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path as written in the profile, e.g. `hosts[1].address`; empty
    /// for the file as a whole.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What is wrong, in the operator's language when rendered.
    pub message: Msg,
    pub hint: Option<Msg>,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<Msg>) -> Self {
        Problem {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<Msg>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col: path: message` (and an indented hint line), in English.
    pub fn render(&self, file: Option<&Path>) -> String {
        self.render_in(file, "en")
    }

    /// Like [`render`](Self::render), in `locale`; the field path stays as
    /// written in the profile.
    pub fn render_in(&self, file: Option<&Path>, locale: &str) -> String {
        let mut out = String::new();
        if let Some(f) = file {
            out.push_str(&f.display().to_string());
            if let Some(l) = self.line {
                out.push_str(&format!(":{l}"));
                if let Some(c) = self.column {
                    out.push_str(&format!(":{c}"));
                }
            }
            out.push_str(": ");
        }
        if !self.path.is_empty() {
            out.push_str(&self.path);
            out.push_str(": ");
        }
        out.push_str(&self.message.render(locale));
        if let Some(h) = &self.hint {
            out.push_str("\n    ");
            out.push_str(&crate::i18n::text("profile.hint-label", locale));
            out.push_str(&h.render(locale));
        }
        out
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read the profile: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_problems(file.as_deref(), problems))]
    Problems {
        file: Option<PathBuf>,
        problems: Vec<Problem>,
    },
}

impl LoadError {
    /// The error in `locale` (field paths and file positions unchanged).
    pub fn render(&self, locale: &str) -> String {
        match self {
            LoadError::Read { path, source } => Msg::new("profile.cannot-read")
                .arg("path", path.display())
                .arg("error", source)
                .render(locale),
            LoadError::Problems { file, problems } => {
                render_problems_in(file.as_deref(), problems, locale)
            }
        }
    }
}

fn render_problems(file: Option<&Path>, problems: &[Problem]) -> String {
    render_problems_in(file, problems, "en")
}

fn render_problems_in(file: Option<&Path>, problems: &[Problem], locale: &str) -> String {
    let n = problems.len();
    let mut out = Msg::new(if n == 1 {
        "profile.problems-one"
    } else {
        "profile.problems-many"
    })
    .arg("count", n)
    .arg(
        "file",
        file.map(|f| f.display().to_string())
            .unwrap_or_else(|| "the profile".into()),
    )
    .render(locale);
    for p in problems {
        out.push('\n');
        out.push_str(&p.render_in(file, locale));
    }
    out
}
