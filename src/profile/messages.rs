//! serde's error messages, read as the operator's sentences: an unknown
//! key with "did you mean", a missing key, a wrong type or value in plain
//! words, a secret written inline refused.

use super::problem::Problem;
use crate::i18n::Msg;

pub(super) enum ErrorKind {
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

pub(super) fn classify(message: &str) -> ErrorKind {
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
pub(super) fn friendly(message: &str) -> Msg {
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

pub(super) fn unknown_field_problem(path: &str, field: &str, expected: &[String]) -> Problem {
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

pub(super) fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
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
