//! Reading a profile: YAML in, [`Answers`] or every problem at once out,
//! each problem with its field path and, from a file, its line and column.
//!
//! Structural problems (syntax, unknown keys, wrong types, missing keys) are
//! collected by deserializing repeatedly, repairing the tree after each
//! error, until it goes through; when there are none, the rules of
//! [`super::validate`] run over the typed answers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::Answers;
use super::messages::{ErrorKind, classify, closest, unknown_field_problem};
use crate::i18n::Msg;

pub use super::problem::{LoadError, Problem};

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
