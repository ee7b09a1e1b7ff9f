//! Reading a profile: YAML in, [`Answers`] or every problem at once out,
//! each problem with its field path and, from a file, its line and column.
//!
//! Structural problems (syntax, unknown keys, wrong types, missing keys) are
//! collected by deserializing repeatedly, repairing the tree after each
//! error, until it goes through; when there are none, the rules of
//! [`super::validate`] run over the typed answers.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::Answers;
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

/// Reads and checks a profile file, including that the secrets it names
/// (environment variables, files) are there.
pub fn load_file(path: &Path) -> Result<Answers, LoadError> {
    load_file_with(path, true)
}

/// Like [`load_file`], without requiring the secrets yet: the wizard asks
/// for a password the environment does not hold.
pub fn load_file_for_wizard(path: &Path) -> Result<Answers, LoadError> {
    load_file_with(path, false)
}

fn load_file_with(path: &Path, secrets: bool) -> Result<Answers, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let problems = |p: Problem| LoadError::Problems {
        file: Some(path.to_path_buf()),
        problems: vec![p],
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let raw = e.as_bytes();
            let line = raw[..at].iter().filter(|b| **b == b'\n').count() + 1;
            let column = at
                - raw[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            return Err(problems(Problem {
                line: Some(line),
                column: Some(column),
                ..Problem::new(
                    "",
                    Msg::new("profile.not-utf8").arg("byte", format!("0x{:02x}", raw[at])),
                )
                .hint(Msg::new("profile.not-utf8-hint"))
            }));
        }
    };
    load_str_with(&text, Some(path), secrets)
}

/// Reads and checks a profile given as text; `file` is only for messages.
pub fn load_str(text: &str, file: Option<&Path>) -> Result<Answers, LoadError> {
    load_str_with(text, file, true)
}

fn load_str_with(text: &str, file: Option<&Path>, secrets: bool) -> Result<Answers, LoadError> {
    let fail = |problems: Vec<Problem>| LoadError::Problems {
        file: file.map(Path::to_path_buf),
        problems,
    };
    if text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    }) {
        return Err(fail(vec![
            Problem::new("", Msg::new("profile.empty")).hint(Msg::new("profile.empty-hint")),
        ]));
    }
    let value: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let loc = e.location();
            let msg = e.to_string();
            // serde_yaml appends " at line L column C"; the location is ours to print.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            let line = loc.as_ref().map(|l| l.line());
            let mut problem = Problem {
                line,
                column: loc.as_ref().map(|l| l.column()),
                ..Problem::new("", Msg::new("profile.not-yaml").arg("error", msg))
            };
            let tabbed = line
                .and_then(|l| text.lines().nth(l.saturating_sub(1)))
                .is_some_and(|l| l.contains('\t'));
            problem = if tabbed {
                problem.hint(Msg::new("profile.yaml-tab"))
            } else {
                problem.hint(Msg::new("profile.yaml-hint"))
            };
            return Err(fail(vec![problem]));
        }
    };
    if !value.is_mapping() {
        return Err(fail(vec![Problem {
            line: Some(1),
            column: Some(1),
            ..Problem::new(
                "",
                "the profile must be a mapping of keys (version, bundle, topology, ssh, hosts, settings)",
            )
        }]));
    }
    let spans = Spans::of(text);
    let collected = deserialize_collecting(value);
    let mut problems = collected.problems;
    let Some(answers) = collected.answers else {
        for p in &mut problems {
            spans.locate(p);
        }
        return Err(fail(problems));
    };
    // The rules run over the repaired answers too, so that one pass shows
    // everything; what they say about a repaired field is already said.
    let under = |p: &str, r: &str| {
        p == r || p.starts_with(&format!("{r}.")) || p.starts_with(&format!("{r}["))
    };
    problems.extend(
        super::validate(&answers)
            .into_iter()
            .filter(|p| !collected.repaired.iter().any(|r| under(&p.path, r))),
    );
    if problems.is_empty() && secrets {
        let base = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        problems = super::check_secret_sources(&answers, &base);
    }
    if problems.is_empty() {
        return Ok(answers);
    }
    for p in &mut problems {
        spans.locate(p);
    }
    Err(fail(problems))
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

const MAX_ROUNDS: usize = 200;

/// What deserializing with repairs found.
struct Collected {
    /// The answers from the repaired tree, when repairs got that far.
    answers: Option<Answers>,
    problems: Vec<Problem>,
    /// Paths that were removed or replaced.
    repaired: HashSet<String>,
}

/// Deserializes, repairing the tree after each error so that the next one
/// shows; collects every structural problem.
fn deserialize_collecting(mut value: Value) -> Collected {
    let mut problems: Vec<Problem> = Vec::new();
    let mut reported: HashSet<String> = HashSet::new();
    let mut tried: HashMap<String, usize> = HashMap::new();
    let give_up = |problems: Vec<Problem>, reported: HashSet<String>| Collected {
        answers: None,
        problems,
        repaired: reported,
    };
    for _ in 0..MAX_ROUNDS {
        let err = match serde_path_to_error::deserialize::<_, Answers>(value.clone()) {
            Ok(a) => {
                return Collected {
                    answers: Some(a),
                    problems,
                    repaired: reported,
                };
            }
            Err(e) => e,
        };
        let segs: Vec<Seg> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                _ => None,
            })
            .collect();
        let message = err.inner().to_string();
        let kind = classify(&message);
        match kind {
            ErrorKind::UnknownField { field, expected } => {
                // The path may or may not already end at the unknown key.
                let mut parent = segs.clone();
                if parent.last() == Some(&Seg::Key(field.clone())) {
                    parent.pop();
                }
                let mut at = parent.clone();
                at.push(Seg::Key(field.clone()));
                problems.push(unknown_field_problem(&path_string(&at), &field, &expected));
                reported.insert(path_string(&at));
                if !remove(&mut value, &at) {
                    return give_up(problems, reported);
                }
            }
            ErrorKind::MissingField { field } => {
                let mut at = segs.clone();
                at.push(Seg::Key(field.clone()));
                let p = path_string(&at);
                if reported.insert(p.clone()) {
                    problems.push(Problem {
                        hint: None,
                        ..Problem::new(
                            path_string(&segs),
                            Msg::new("profile.missing").arg("field", &field),
                        )
                    });
                }
                if !repair(&mut value, &at, &mut tried, None) {
                    return give_up(problems, reported);
                }
            }
            ErrorKind::UnknownVariant { found, expected } => {
                let p = path_string(&segs);
                let best = closest(&found, &expected).map(str::to_string);
                if reported.insert(p.clone()) {
                    let mut problem = Problem::new(
                        p,
                        Msg::new("profile.not-one-of")
                            .arg("value", &found)
                            .arg("expected", expected.join(", ")),
                    );
                    if let Some(best) = &best {
                        problem = problem.hint(Msg::new("profile.did-you-mean").arg("best", best));
                    }
                    problems.push(problem);
                }
                // Go on as if the operator wrote what they most likely meant;
                // without a likely meaning, what depends on it is not judged.
                if best.is_none() && segs.len() > 1 {
                    reported.insert(path_string(&segs[..segs.len() - 1]));
                }
                let stand_in = best.or_else(|| expected.first().cloned());
                if !repair(&mut value, &segs, &mut tried, stand_in) {
                    return give_up(problems, reported);
                }
            }
            ErrorKind::Other(text) => {
                let p = path_string(&segs);
                if reported.insert(p.clone()) {
                    problems.push(Problem::new(p, text));
                }
                if segs.is_empty() || !repair(&mut value, &segs, &mut tried, None) {
                    return give_up(problems, reported);
                }
            }
        }
    }
    give_up(problems, reported)
}

enum ErrorKind {
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    MissingField {
        field: String,
    },
    UnknownVariant {
        found: String,
        expected: Vec<String>,
    },
    Other(Msg),
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn classify(message: &str) -> ErrorKind {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        if let Some((field, expected)) = names.split_first() {
            return ErrorKind::UnknownField {
                field: field.clone(),
                expected: expected.to_vec(),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some(field) = backticked(rest).into_iter().next()
    {
        return ErrorKind::MissingField { field };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        if let Some((found, expected)) = names.split_first() {
            return ErrorKind::UnknownVariant {
                found: found.clone(),
                expected: expected.to_vec(),
            };
        }
    }
    ErrorKind::Other(friendly(message))
}

/// Serde's wording, in words an operator uses (and in their language):
/// one catalogue sentence per kind of expected value, the value as written.
fn friendly(message: &str) -> Msg {
    // What serde expected, as (variant of the message, its argument).
    let expected = |e: &str| -> (&'static str, String) {
        match e.trim() {
            "u8" => ("number", "255".into()),
            "u16" => ("number", "65535".into()),
            "u32" => ("number", "4294967295".into()),
            "a sequence" => ("list", String::new()),
            "a boolean" => ("bool", String::new()),
            "a string" => ("string", String::new()),
            e if e.starts_with("struct ") || e == "a map" => ("mapping", String::new()),
            e => ("other", e.to_string()),
        }
    };
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((what, exp)) = rest.split_once(", expected ")
    {
        // "integer `70000`, expected u16" -> "`70000` is out of range: ..."
        let shown = backticked(what)
            .into_iter()
            .next()
            .unwrap_or(what.to_string());
        let (variant, arg) = expected(exp);
        let key = if variant == "number" {
            "number"
        } else {
            "other"
        };
        return Msg::new(format!("profile.out-of-range.{key}"))
            .arg("value", shown)
            .arg(
                "expected",
                if variant == "other" {
                    arg
                } else {
                    exp.trim().to_string()
                },
            )
            .arg(
                "max",
                if variant == "number" {
                    expected(exp).1
                } else {
                    String::new()
                },
            );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, exp)) = rest.split_once(", expected ")
    {
        let (variant, arg) = expected(exp);
        let mut m = Msg::new(format!("profile.wrong-type.{variant}")).arg("found", found);
        m = match variant {
            "number" => m.arg("max", arg),
            "other" => m.arg("expected", arg),
            _ => m,
        };
        return m;
    }
    Msg::from(message.to_string())
}

const SECRET_WORDS: &[&str] = &["password", "passwd", "secret", "token", "private-key"];

fn unknown_field_problem(path: &str, field: &str, expected: &[String]) -> Problem {
    let lower = field.to_ascii_lowercase();
    let is_secret = SECRET_WORDS.iter().any(|w| lower.contains(w))
        && !lower.ends_with("-env")
        && !lower.ends_with("-file");
    if is_secret {
        return Problem::new(path, Msg::new("profile.secret-inline"))
            .hint(Msg::new("profile.secret-inline-hint"));
    }
    let problem = Problem::new(path, Msg::new("profile.unknown-key").arg("key", field));
    match closest(field, expected) {
        Some(best) => problem.hint(Msg::new("profile.did-you-mean").arg("best", best)),
        None if expected.is_empty() => problem,
        None => problem.hint(Msg::new("profile.known-keys").arg("keys", expected.join(", "))),
    }
}

fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

fn node_mut<'a>(value: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    let mut v = value;
    for seg in segs {
        v = match (seg, v) {
            (Seg::Key(k), Value::Mapping(m)) => m.get_mut(Value::String(k.clone()))?,
            (Seg::Index(i), Value::Sequence(s)) => s.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn remove(value: &mut Value, at: &[Seg]) -> bool {
    let Some((last, parent)) = at.split_last() else {
        return false;
    };
    match (last, node_mut(value, parent)) {
        (Seg::Key(k), Some(Value::Mapping(m))) => m.remove(Value::String(k.clone())).is_some(),
        (Seg::Index(i), Some(Value::Sequence(s))) if *i < s.len() => {
            s.remove(*i);
            true
        }
        _ => false,
    }
}

/// Puts a stand-in of another shape at `at` so that deserializing can go on
/// past it; each call tries the next shape. Returns false when out of shapes.
fn repair(
    value: &mut Value,
    at: &[Seg],
    tried: &mut HashMap<String, usize>,
    preferred: Option<String>,
) -> bool {
    let key = path_string(at);
    let round = tried.entry(key).or_insert(0);
    let mut shapes: Vec<Value> = Vec::new();
    if let Some(p) = preferred {
        shapes.push(Value::String(p));
    }
    shapes.extend([
        Value::String(String::new()),
        Value::Number(1.into()),
        Value::Sequence(Vec::new()),
        Value::Mapping(Mapping::new()),
        Value::Bool(false),
    ]);
    let Some(shape) = shapes.get(*round).cloned() else {
        return false;
    };
    *round += 1;
    let Some((last, parent)) = at.split_last() else {
        return false;
    };
    match (last, node_mut(value, parent)) {
        (Seg::Key(k), Some(Value::Mapping(m))) => {
            m.insert(Value::String(k.clone()), shape);
            true
        }
        (Seg::Index(i), Some(Value::Sequence(s))) if *i < s.len() => {
            s[*i] = shape;
            true
        }
        _ => false,
    }
}

/// Where each field path starts in the text (key and value positions).
struct Spans {
    keys: HashMap<String, (usize, usize)>,
    values: HashMap<String, (usize, usize)>,
}

impl Spans {
    fn of(text: &str) -> Spans {
        let mut spans = Spans {
            keys: HashMap::new(),
            values: HashMap::new(),
        };
        if let Ok(node) = marked_yaml::parse_yaml(0, text) {
            spans.walk(&node, &mut Vec::new());
        }
        // What is missing at the top is reported at the top.
        spans.values.insert(String::new(), (1, 1));
        spans
    }

    fn walk(&mut self, node: &marked_yaml::Node, at: &mut Vec<Seg>) {
        if let Some(m) = node.span().start() {
            self.values.insert(path_string(at), (m.line(), m.column()));
        }
        match node {
            marked_yaml::Node::Mapping(map) => {
                for (k, v) in map.iter() {
                    at.push(Seg::Key(k.as_str().to_string()));
                    if let Some(m) = k.span().start() {
                        self.keys.insert(path_string(at), (m.line(), m.column()));
                    }
                    self.walk(v, at);
                    at.pop();
                }
            }
            marked_yaml::Node::Sequence(seq) => {
                for (i, v) in seq.iter().enumerate() {
                    at.push(Seg::Index(i));
                    self.walk(v, at);
                    at.pop();
                }
            }
            marked_yaml::Node::Scalar(_) => {}
        }
    }

    /// Fills in a problem's line and column: the value's position, else the
    /// key's, else the nearest enclosing field's.
    fn locate(&self, p: &mut Problem) {
        if p.line.is_some() {
            return;
        }
        let mut path = p.path.clone();
        loop {
            let found = if p.message.key == "profile.unknown-key"
                || p.message.key == "profile.secret-inline"
            {
                self.keys.get(&path).or_else(|| self.values.get(&path))
            } else {
                self.values.get(&path).or_else(|| self.keys.get(&path))
            };
            if let Some((l, c)) = found {
                p.line = Some(*l);
                p.column = Some(*c);
                return;
            }
            match path.rfind(['.', '[']) {
                Some(i) => path.truncate(i),
                None if !path.is_empty() => path.clear(),
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Serde's messages become catalogue sentences in every language.
    #[test]
    fn serde_messages_read_as_sentences_in_every_language() {
        for (serde, en) in [
            (
                "invalid value: integer `70000`, expected u16",
                "`70000` is out of range: expected a whole number from 0 to 65535",
            ),
            (
                "invalid type: string \"master\", expected a sequence",
                "wrong type: string \"master\", expected a list",
            ),
            (
                "invalid type: integer `1`, expected a boolean",
                "wrong type: integer `1`, expected true or false",
            ),
            (
                "invalid type: sequence, expected a string",
                "wrong type: sequence, expected a string",
            ),
            (
                "invalid type: string \"x\", expected struct Host",
                "wrong type: string \"x\", expected a mapping of keys",
            ),
            (
                "invalid type: string \"x\", expected u8",
                "wrong type: string \"x\", expected a whole number from 0 to 255",
            ),
            (
                "invalid type: map, expected something odd",
                "wrong type: map, expected something odd",
            ),
        ] {
            let m = super::friendly(serde);
            assert_eq!(m.render("en"), en);
            let zh = m.render("zh-CN");
            assert!(zh.contains("应为") && zh != en, "{zh}");
        }
    }
}
