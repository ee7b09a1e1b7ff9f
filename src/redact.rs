//! Every secret value this process knows (the operator's, then the
//! generated ones once a run has loaded them): what logs and reports must
//! never show. The engine adds to it; the log writer applies it.

use std::sync::{OnceLock, RwLock};

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Adds values to hide from everything written from now on.
pub fn add<S: AsRef<str>>(values: &[S]) {
    let mut all = secrets().write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        let v = v.as_ref();
        if !v.is_empty() && !all.iter().any(|x| x == v) {
            all.push(v.to_string());
        }
    }
    // Longest first, so that a secret containing another is hidden whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every known secret replaced by `***`.
pub fn apply(text: &str) -> String {
    let mut text = text.to_string();
    for s in secrets().read().unwrap_or_else(|e| e.into_inner()).iter() {
        text = text.replace(s.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn longest_secret_hidden_whole() {
        super::add(&["pw-redact-test", "pw-redact-test-longer"]);
        assert_eq!(
            super::apply("a pw-redact-test-longer b pw-redact-test"),
            "a *** b ***"
        );
    }
}
