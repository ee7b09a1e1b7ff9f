//! What a host holds of the installation, read back in one round trip as
//! marked sections of one script's output: its install record, its
//! rendered configuration as it is there, and its secret files (as values
//! for [`crate::redact`] to hide, never kept). `collect` and `backup` read
//! hosts this way.

use std::time::Duration;

use crate::connect::Target;

/// The line that starts a section: this marker, then the section's name.
pub const MARK: &str = "@@cdwiz-collect@@ ";
/// Sections of a host's answer that are secrets to hide, not files.
const HIDE: &str = "hide/";
/// The shell function a read-back script starts a section with
/// (`sec NAME`).
pub const SECTION_FN: &str = r#"sec() { printf '\n@@cdwiz-collect@@ %s\n' "$1"; }"#;

/// The script lines that send the host's secret files as hex, to hide.
pub fn hidden_script(t: &Target) -> String {
    format!(
        r#"for f in {secrets}/*; do [ -f "$f" ] && {{ sec "{HIDE}${{f##*/}}"; od -An -v -tx1 < "$f" | tr -d ' \n'; }}; done"#,
        secrets = crate::ssh::quote(&format!("{}/cd/secrets", t.data_dir)),
    )
}

/// The sections of a host's answer that are files; the secrets it sent
/// are added to what every file written is cleaned of (this machine may
/// have no record of them), never kept.
pub fn without_hidden(stdout: &str) -> Vec<(String, Vec<u8>)> {
    let (hide, files): (Vec<_>, Vec<_>) = split_sections(stdout)
        .into_iter()
        .partition(|(name, _)| name.starts_with(HIDE));
    let values: Vec<String> = hide
        .iter()
        .filter_map(|(_, hex)| crate::text::from_hex(String::from_utf8_lossy(hex).trim()))
        .filter_map(|v| String::from_utf8(v).ok())
        .collect();
    crate::redact::add(&values);
    files
}

/// A host's install record (`install.json`) and its rendered configuration
/// as it is there (`config/...`): what a backup keeps of each host.
pub async fn record_and_config(t: &Target) -> Result<Vec<(String, Vec<u8>)>, String> {
    let config = format!("{}/cd/config", t.data_dir);
    let script = format!(
        r#"{SECTION_FN}
[ -f {record} ] && {{ sec install.json; cat {record}; }}
find {config} -type f 2>/dev/null | sort | while read -r f; do sec "config/${{f#{config}/}}"; cat "$f"; done
{hidden}
true"#,
        record = super::INSTALL_RECORD,
        config = crate::ssh::quote(&config),
        hidden = hidden_script(t),
    );
    let out = t
        .conn
        .run(&script, Duration::from_secs(120))
        .await
        .map_err(|e| e.to_string())?;
    Ok(without_hidden(&out.stdout))
}

/// `(name, content)` of each marked section; names that could leave the
/// host's folder are dropped.
pub fn split_sections(text: &str) -> Vec<(String, Vec<u8>)> {
    text.split(&format!("\n{MARK}"))
        .skip(1)
        .filter_map(|s| {
            let (name, content) = s.split_once('\n').unwrap_or((s, ""));
            let safe = !name.is_empty()
                && !name.starts_with('/')
                && name
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..")
                && !name.chars().any(char::is_control);
            safe.then(|| (name.to_string(), content.as_bytes().to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_function_prints_the_marker() {
        assert!(SECTION_FN.contains(MARK));
    }

    #[test]
    fn sections_split_and_unsafe_names_are_dropped() {
        let text = format!(
            "noise\n{MARK}install.json\n{{\"a\":1}}\n\n{MARK}config/x.env\nA=1\n\
             {MARK}../../etc/passwd\nroot\n{MARK}containers/cd-web.log\nline\n"
        );
        let s = split_sections(&text);
        let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["install.json", "config/x.env", "containers/cd-web.log"]
        );
        assert_eq!(s[1].1, b"A=1");
    }
}
