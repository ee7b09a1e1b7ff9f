//! Every secret value this process knows (the operator's, then the
//! generated ones once a run has loaded them): what logs and reports must
//! never show. The engine adds to it; the log writer applies it.

use std::sync::{OnceLock, RwLock};

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Adds values to hide from everything written from now on: each in
/// every form it is met in (see [`forms`]).
pub fn add<S: AsRef<str>>(values: &[S]) {
    let mut all = secrets().write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        for f in forms(v.as_ref()) {
            if !all.contains(&f) {
                all.push(f);
            }
        }
    }
    // Longest first, so that a secret containing another is hidden whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The forms a secret is met in: as given and trimmed (read back with a
/// newline), JSON-escaped, hex (either case), base64 (with and without a
/// trailing newline, as `echo | base64` makes it), and the part of its
/// base64 that is the same wherever it sits inside a longer base64 text
/// (`user:password` in a Basic header, a Docker config's `auth`).
pub fn forms(value: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    let mut out = vec![value.to_string(), trimmed.to_string()];
    if let Ok(json) = serde_json::to_string(trimmed) {
        out.push(json[1..json.len() - 1].to_string());
    }
    let hex: String = trimmed.bytes().map(|b| format!("{b:02x}")).collect();
    out.push(hex.to_uppercase());
    out.push(hex);
    out.push(b64.encode(trimmed));
    out.push(b64.encode(format!("{trimmed}\n")));
    let bytes = trimmed.as_bytes();
    for k in 0..3usize {
        // `k` bytes before it: the characters those (and the bytes after
        // it) share are left out.
        let mut padded = vec![0u8; k];
        padded.extend_from_slice(bytes);
        let enc = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
        let skip = [0, 2, 3][k];
        let cut = usize::from(padded.len() % 3 != 0);
        if enc.len() >= skip + cut + 4 {
            out.push(enc[skip..enc.len() - cut].to_string());
        }
    }
    out.retain(|f| !f.is_empty());
    out.sort();
    out.dedup();
    out
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
    /// A secret is hidden in every form it is met in, wherever it sits.
    #[test]
    fn every_form_of_a_secret_is_hidden() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let secret = "Qx7\"pw\\redact-forms";
        super::add(&[format!("{secret}\n")]);
        let json = serde_json::to_string(&serde_json::json!({ "p": secret })).unwrap();
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        for (what, text) in [
            ("plain", secret.to_string()),
            ("json", json),
            ("hex", hex.clone()),
            ("HEX", hex.to_uppercase()),
            ("base64", b64.encode(secret)),
            ("echo | base64", b64.encode(format!("{secret}\n"))),
            ("basic auth", b64.encode(format!("admin:{secret}"))),
            ("docker auth", b64.encode(format!("ci-user:{secret}"))),
            ("inside", b64.encode(format!("ab{secret}xyz"))),
        ] {
            let clean = super::apply(&format!("x {text} y"));
            assert!(clean.contains("***"), "{what}: {clean}");
            assert!(!clean.contains(&text), "{what}: {clean}");
        }
    }

    #[test]
    fn longest_secret_hidden_whole() {
        super::add(&["pw-redact-test", "pw-redact-test-longer"]);
        assert_eq!(
            super::apply("a pw-redact-test-longer b pw-redact-test"),
            "a *** b ***"
        );
    }
}
