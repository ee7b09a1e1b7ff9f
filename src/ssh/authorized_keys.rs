//! Editing a login's `~/.ssh/authorized_keys` on a host without harming
//! what the customer keeps there: a key is matched by its whole fields
//! (type and full blob, where a key line has them: first, or after the
//! options), never by a substring; the new file is written beside the old
//! one and renamed over it, every step's exit code checked, so a full disk
//! or a failed `mktemp` leaves the file as it was; a file that lacks its
//! final newline gets one before a line is added; a symlinked `.ssh` or
//! `authorized_keys` is refused (root never edits through a user's link).

use super::quote;

/// Shell functions the scripts share (POSIX sh, awk, coreutils).
/// `ak_refuse_links DIR FILE` exits 3 naming a symbolic link;
/// `ak_has FILE TYPE BLOB` is true when a key line holds that key;
/// `ak_without FILE TYPE BLOB` prints the file without such lines.
const FUNCTIONS: &str = r#"ak_refuse_links() {
  for p in "$1" "$2"; do
    if [ -L "$p" ]; then echo "cdwiz: $p is a symbolic link; cdwiz edits no authorized_keys through a link" >&2; exit 3; fi
  done
}
ak_has() { awk -v t="$2" -v b="$3" '($1 == t && $2 == b) || ($2 == t && $3 == b) { f = 1 } END { exit !f }' "$1"; }
ak_without() { awk -v t="$2" -v b="$3" '!(($1 == t && $2 == b) || ($2 == t && $3 == b))' "$1"; }
"#;

/// The options cdwiz's own key is installed with: commands and forwarding
/// the Docker socket only (no agent or X11 forwarding, no pty, no
/// ~/.ssh/rc); [`add_script`] adds `from="ADDRESS"`, the address the host
/// sees the login come from (see [`options_from`]).
pub const OWN_KEY_OPTIONS: &str = "restrict,port-forwarding";

/// Whether `address` can go into `from="…"` as it is: an IPv4 or IPv6
/// address's characters only (what `$SSH_CLIENT` names).
pub fn plain_address(address: &str) -> bool {
    !address.is_empty()
        && address.len() <= 45
        && address
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
}

/// The options of cdwiz's key on a host whose logins come from `seen`
/// (as [`add_script`] writes them).
pub fn options_from(seen: Option<&str>) -> String {
    match seen.filter(|a| plain_address(a)) {
        Some(a) => format!("{OWN_KEY_OPTIONS},from=\"{a}\""),
        None => OWN_KEY_OPTIONS.to_string(),
    }
}

/// `type blob` of a public key line, whatever its options and comment:
/// the word after the options that names a key type, and the blob after it.
pub fn key_fields(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    let kind =
        words.find(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))?;
    let blob = words.next()?;
    Some((kind.to_string(), blob.to_string()))
}

/// A script, run as the login user, that puts the key line it reads on
/// stdin into `~/.ssh/authorized_keys`: a line with options gets
/// `from="ADDRESS"` added, the address this login comes from as the host
/// sees it (`$SSH_CLIENT`), so the key serves no other machine; a line of
/// the same key with other options (an earlier address) is replaced; the
/// same line again changes nothing.
pub fn add_script() -> String {
    format!(
        r#"{FUNCTIONS}umask 077
d="$HOME/.ssh"; f="$d/authorized_keys"
ak_refuse_links "$d" "$f"
IFS= read -r line || exit 1
set -f; set -- $line
case "$1" in ssh-*|ecdsa-*|sk-*) t=$1; b=$2 ;; *) t=$2; b=$3 ;; esac
[ -n "$b" ] || {{ echo "cdwiz: no key on stdin" >&2; exit 1; }}
ip=${{SSH_CLIENT%% *}}
case "$ip" in ''|*[!0-9a-fA-F:.]*) ;; *)
  case "$1" in ssh-*|ecdsa-*|sk-*) ;; *) o=$1; shift; line="$o,from=\"$ip\" $*" ;; esac ;;
esac
mkdir -p "$d" || exit 1
if [ -f "$f" ] && grep -qxF -- "$line" "$f"; then exit 0; fi
n=$(mktemp "$f.cdwiz.XXXXXX") || exit 1
(
  if [ -s "$f" ]; then ak_without "$f" "$t" "$b" || exit 1; fi
  printf '%s\n' "$line"
) > "$n" && chmod 600 "$n" && mv -f "$n" "$f" || {{ rm -f "$n"; exit 1; }}
"#
    )
}

/// A script, run as the login user, that removes `key` (`type blob`) from
/// `~/.ssh/authorized_keys`; prints `removed` or `absent`.
pub fn remove_own_script(key: &str) -> String {
    remove_script("\"$HOME\"", key, "removed", Some("absent"))
}

/// Removes `key` from the `authorized_keys` under the home directory the
/// shell expression `home` gives; the new file keeps the old one's owner
/// and mode (when root edits a user's). Prints `said` when a line went,
/// else `absent` (if given).
pub fn remove_script(home: &str, key: &str, said: &str, absent: Option<&str>) -> String {
    let (t, b) = key_fields(key).unwrap_or_default();
    format!(
        r#"{FUNCTIONS}h={home}; d="$h/.ssh"; f="$d/authorized_keys"
ak_refuse_links "$d" "$f"
if [ -n "$h" ] && [ -n {b} ] && [ -f "$f" ] && ak_has "$f" {t} {b}; then
  n=$(mktemp "$f.cdwiz.XXXXXX") || exit 1
  if ak_without "$f" {t} {b} > "$n" && chown --reference="$f" "$n" && chmod --reference="$f" "$n" && mv -f "$n" "$f"; then
    echo {said}
  else
    rm -f "$n"; exit 1
  fi
else
  {absent}
fi
"#,
        absent = absent.map_or(":".to_string(), |a| format!("echo {}", quote(a))),
        t = quote(&t),
        b = quote(&b),
        said = quote(said),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICustomerCustomerCustomerCustomerCustomer customer@bank";
    const OURS: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOursOursOursOursOursOursOursOursOursOu cdwiz";

    /// Runs `script` with HOME at `home`, `input` on stdin.
    fn sh(home: &std::path::Path, script: &str, input: &str) -> (i32, String, String) {
        sh_from(home, script, input, None)
    }

    /// [`sh`] as a login from `client` (`$SSH_CLIENT`) would.
    fn sh_from(
        home: &std::path::Path,
        script: &str,
        input: &str,
        client: Option<&str>,
    ) -> (i32, String, String) {
        use std::io::Write;
        let mut cmd = std::process::Command::new("sh");
        cmd.env_remove("SSH_CLIENT");
        if let Some(c) = client {
            cmd.env("SSH_CLIENT", c);
        }
        let mut child = cmd
            .arg("-c")
            .arg(script)
            .env("HOME", home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A script that refuses before reading its input closes the pipe.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn line() -> String {
        format!("{OWN_KEY_OPTIONS} {OURS}\n")
    }

    #[test]
    fn the_key_serves_the_address_the_host_sees_and_moves_with_it() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        let f = home.path().join(".ssh/authorized_keys");
        std::fs::write(&f, format!("{CUSTOMER}\n")).unwrap();
        let at = |client: &str| {
            let (code, _, err) = sh_from(home.path(), &add_script(), &line(), Some(client));
            assert_eq!(code, 0, "{err}");
            std::fs::read_to_string(&f).unwrap()
        };
        let ours = |addr: &str| format!("{} {OURS}\n", options_from(Some(addr)));
        assert_eq!(
            at("192.0.2.7 51234 22"),
            format!("{CUSTOMER}\n{}", ours("192.0.2.7"))
        );
        assert!(
            ours("192.0.2.7")
                .starts_with("restrict,port-forwarding,from=\"192.0.2.7\" ssh-ed25519 ")
        );
        // Again from there: unchanged; from another address: that line, once.
        assert_eq!(
            at("192.0.2.7 40000 22"),
            format!("{CUSTOMER}\n{}", ours("192.0.2.7"))
        );
        assert_eq!(
            at("2001:db8::5 40000 22"),
            format!("{CUSTOMER}\n{}", ours("2001:db8::5"))
        );
        // What is not an address is not written into the options.
        assert_eq!(at("x\";rm 1 2"), format!("{CUSTOMER}\n{}", line()));
        assert!(!plain_address("10.0.0.1\" "));
        assert_eq!(options_from(Some("a b")), OWN_KEY_OPTIONS);
    }

    #[test]
    fn a_file_without_its_final_newline_keeps_the_customers_key() {
        let home = tempfile::tempdir().unwrap();
        let f = home.path().join(".ssh/authorized_keys");
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::fs::write(&f, format!("# theirs\n{CUSTOMER}")).unwrap();
        let (code, _, err) = sh(home.path(), &add_script(), &line());
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text, format!("# theirs\n{CUSTOMER}\n{}", line()));
        // Twice: once.
        assert_eq!(sh(home.path(), &add_script(), &line()).0, 0);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
        let (t, b) = key_fields(OURS).unwrap();
        let (code, out, err) = sh(home.path(), &remove_own_script(&format!("{t} {b}")), "");
        assert_eq!((code, out.trim()), (0, "removed"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            format!("# theirs\n{CUSTOMER}\n")
        );
    }

    #[test]
    fn only_whole_fields_match_and_a_merged_line_is_left_alone() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        let f = home.path().join(".ssh/authorized_keys");
        // An older cdwiz's append onto a line without a newline.
        let merged = format!("{CUSTOMER}{OWN_KEY_OPTIONS} {OURS}\n");
        std::fs::write(&f, &merged).unwrap();
        let (t, b) = key_fields(OURS).unwrap();
        // A prefix of the blob matches nothing.
        let short = format!("{t} {}", &b[..24]);
        let (code, out, _) = sh(home.path(), &remove_own_script(&short), "");
        assert_eq!((code, out.trim()), (0, "absent"));
        let (code, out, _) = sh(home.path(), &remove_own_script(&format!("{t} {b}")), "");
        assert_eq!((code, out.trim()), (0, "absent"));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), merged);
    }

    #[test]
    fn a_symlinked_file_or_folder_is_refused_and_left_as_it_is() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = home.path().join("elsewhere");
        std::fs::write(&elsewhere, format!("{CUSTOMER}\n")).unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, home.path().join(".ssh/authorized_keys")).unwrap();
        let (code, _, err) = sh(home.path(), &add_script(), &line());
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("symbolic link"), "{err}");
        let (t, b) = key_fields(CUSTOMER).unwrap();
        let (code, _, _) = sh(home.path(), &remove_own_script(&format!("{t} {b}")), "");
        assert_eq!(code, 3);
        assert_eq!(
            std::fs::read_to_string(&elsewhere).unwrap(),
            format!("{CUSTOMER}\n")
        );
    }
}
