//! Text that came from a host (hostnames, command output, container logs)
//! made safe to show and store: terminal control sequences and other
//! control characters removed, so a remote host cannot rewrite the
//! operator's screen, forge lines in a report or break a file it lands in.
//! Also the words an error ends in ([`root_cause`]), without its wrapping.

/// `s` without escape sequences (CSI, OSC and two-byte ESC sequences) and
/// without control characters other than tab and, when `keep_newlines`,
/// newline.
pub fn clean(s: &str, keep_newlines: bool) -> String {
    let kept = |c: char| c == '\t' || (keep_newlines && c == '\n');
    if !s.chars().any(|c| c.is_control() && !kept(c)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte.
                Some('[') => {
                    for n in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ESC \.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' {
                            break;
                        }
                        if n == '\u{1b}' {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\u{9b}' => {
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        break;
                    }
                }
            }
            '\t' => out.push(c),
            '\n' if keep_newlines => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Bytes as people read them: `812 B`, `4.2 KB`, `1.3 MB`, `2.0 GB`
/// (powers of 1024).
pub fn bytes(n: u64) -> String {
    let b = n as f64;
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KB", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MB", b / 1_048_576.0),
        _ => format!("{:.1} GB", b / 1_073_741_824.0),
    }
}

/// One line of remote text: cleaned, newlines included.
pub fn line(s: &str) -> String {
    clean(s, false)
}

/// The bytes of `od -An -v -tx1` output with its spaces and newlines
/// removed (how a host sends a file whose bytes must survive as they
/// are); none when it is not whole hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The innermost error: "connection refused", not three layers of wrapping.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let inner = cur.to_string();
    let outer = e.to_string();
    if inner == outer {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::{clean, line};

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        assert_eq!(line("ok\u{1b}[2J\u{1b}[1;31mred\u{1b}[0m"), "okred");
        assert_eq!(line("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(line("a\u{1b}]52;c;ZXZpbA==\u{1b}\\b"), "ab");
        assert_eq!(line("node1\r\n10.0.0.9 evil"), "node110.0.0.9 evil");
        assert_eq!(clean("two\nlines\r", true), "two\nlines");
        assert_eq!(line("\u{9b}31mx"), "x");
        assert_eq!(line("数据\tdisk"), "数据\tdisk");
    }
}
