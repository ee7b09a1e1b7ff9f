//! Messages a person reads: the engine emits a [`Msg`] (a catalogue key and
//! its arguments); front ends render it in the operator's language. The
//! catalogues are `assets/locales/<locale>.yml`, English the fallback.

use std::collections::BTreeMap;

use serde::Serialize;

/// A message by catalogue key, with named arguments (`%{name}` in the text).
/// In JSON (reports, `--output json`) it carries its English text beside
/// the key, so a reader without the catalogue can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: String,
    pub args: BTreeMap<String, String>,
    /// Arguments that are messages themselves, rendered in the same
    /// language as the message that holds them.
    pub nested: BTreeMap<String, Msg>,
}

impl Serialize for Msg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("key", &self.key)?;
        if !self.args.is_empty() || !self.nested.is_empty() {
            let mut args = self.args.clone();
            args.extend(self.nested.iter().map(|(k, v)| (k.clone(), v.render("en"))));
            m.serialize_entry("args", &args)?;
        }
        m.serialize_entry("text", &self.render("en"))?;
        m.end()
    }
}

impl Msg {
    pub fn new(key: impl Into<String>) -> Self {
        Msg {
            key: key.into(),
            args: BTreeMap::new(),
            nested: BTreeMap::new(),
        }
    }

    /// Adds an argument. Its text may come from a host: control sequences
    /// are removed (newlines stay), so a message cannot carry them to a
    /// screen or a report.
    pub fn arg(mut self, name: &str, value: impl ToString) -> Self {
        self.args.insert(
            name.to_string(),
            crate::text::clean(&value.to_string(), true),
        );
        self
    }

    /// Adds an argument that is a message itself (rendered in the same
    /// language as this one).
    pub fn arg_msg(mut self, name: &str, value: Msg) -> Self {
        self.nested.insert(name.to_string(), value);
        self
    }

    /// The message with `f` applied to every argument (redaction).
    pub fn map_args(self, f: impl Fn(&str) -> String) -> Self {
        self.map_args_dyn(&f)
    }

    fn map_args_dyn(mut self, f: &dyn Fn(&str) -> String) -> Self {
        for v in self.args.values_mut() {
            *v = f(v);
        }
        let nested = std::mem::take(&mut self.nested);
        self.nested = nested
            .into_iter()
            .map(|(k, m)| (k, m.map_args_dyn(f)))
            .collect();
        self
    }

    /// The message in `locale` (falling back to English).
    pub fn render(&self, locale: &str) -> String {
        let text = plurals(
            &rust_i18n::t!(self.key.as_str(), locale = locale),
            &self.args,
        );
        let mut all = self.args.clone();
        all.extend(
            self.nested
                .iter()
                .map(|(k, m)| (k.clone(), m.render(locale))),
        );
        let names: Vec<String> = all.keys().cloned().collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let values: Vec<String> = all.values().cloned().collect();
        rust_i18n::replace_patterns(&text, &names, &values)
    }
}

/// `[[name:one|many]]` in a catalogue text: `one` when the argument `name`
/// is 1, else `many` ("1 host", "3 hosts"; Chinese needs none).
fn plurals(text: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        let Some(len) = rest[start..].find("]]") else {
            break;
        };
        let inner = &rest[start + 2..start + len];
        let chosen = inner.split_once(':').and_then(|(name, forms)| {
            let (one, many) = forms.split_once('|')?;
            Some(if args.get(name).map(String::as_str) == Some("1") {
                one
            } else {
                many
            })
        });
        out.push_str(&rest[..start]);
        match chosen {
            Some(form) => out.push_str(form),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Text that has no catalogue entry of its own (a parser's message, a
/// value): shown as it is in every language.
impl From<String> for Msg {
    fn from(text: String) -> Self {
        Msg::new("common.text").arg("text", text)
    }
}

impl From<&str> for Msg {
    fn from(text: &str) -> Self {
        Msg::from(text.to_string())
    }
}

/// The text of a catalogue key in `locale`.
pub fn text(key: &str, locale: &str) -> String {
    rust_i18n::t!(key, locale = locale).into_owned()
}

/// `text` padded with spaces to `width` terminal columns (a Chinese
/// character takes two), for aligned plain-text lines.
pub fn pad(text: &str, width: usize) -> String {
    let cols = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(cols)))
}

/// Locales with a catalogue.
pub const LOCALES: &[&str] = &["en", "zh-CN"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_arguments_and_falls_back_to_english() {
        let m = Msg::new("test.hello").arg("name", "ops");
        assert_eq!(m.render("en"), "Hello, ops");
        assert_eq!(m.render("zh-CN"), "你好，ops");
        assert_eq!(m.render("fr"), "Hello, ops");
    }

    #[test]
    fn counts_pick_the_singular_or_the_plural() {
        let args = |n: &str| BTreeMap::from([("hosts".to_string(), n.to_string())]);
        let t = "%{hosts} [[hosts:host|hosts]] up";
        assert_eq!(plurals(t, &args("1")), "%{hosts} host up");
        assert_eq!(plurals(t, &args("0")), "%{hosts} hosts up");
        assert_eq!(plurals(t, &args("12")), "%{hosts} hosts up");
        // Not a plural form: left as it is.
        assert_eq!(plurals("[[x]] [[", &args("1")), "[[x]] [[");
        let m = Msg::new("sandbox.up")
            .arg("name", "t")
            .arg("hosts", 1)
            .arg("secs", 2);
        assert!(m.render("en").contains("1 host in"), "{}", m.render("en"));
    }

    #[test]
    fn a_nested_message_is_rendered_in_the_same_language() {
        let inner = Msg::new("health.no-answer").arg("port", 80);
        let m = Msg::new("deploy.error.unhealthy")
            .arg("container", "cd-web")
            .arg_msg("error", inner);
        assert!(
            m.render("en").contains("port 80 does not answer"),
            "{}",
            m.render("en")
        );
        assert!(
            m.render("zh-CN").contains("端口 80 无响应"),
            "{}",
            m.render("zh-CN")
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["args"]["error"], "port 80 does not answer");
    }

    #[test]
    fn json_carries_the_english_text_beside_the_key() {
        let m = Msg::new("test.hello").arg("name", "ops");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["key"], "test.hello");
        assert_eq!(v["args"]["name"], "ops");
        assert_eq!(v["text"], "Hello, ops");
    }

    #[test]
    fn pad_counts_chinese_as_two_columns() {
        assert_eq!(pad("ok", 4), "ok  ");
        assert_eq!(pad("完成", 6), "完成  ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    fn keys(locale: &str) -> std::collections::BTreeSet<String> {
        let path = format!("{}/assets/locales/{locale}.yml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let map: BTreeMap<String, String> = serde_yaml::from_str(&text).unwrap();
        map.into_keys().collect()
    }

    #[test]
    fn every_catalogue_has_the_same_keys() {
        let en = keys("en");
        for locale in LOCALES {
            let other = keys(locale);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(missing.is_empty(), "{locale} lacks {missing:?}");
            assert!(extra.is_empty(), "{locale} has keys en lacks: {extra:?}");
        }
    }

    /// Every literal key the code passes to the catalogue exists in it.
    #[test]
    fn every_key_the_code_uses_is_in_the_catalogue() {
        let en = keys("en");
        let mut used = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                // m("x") is `check.x`; Msg::new("x") and text("x") are `x`.
                for (marker, prefix) in [
                    ("m(\"", "check."),
                    ("Msg::new(\"", ""),
                    ("text(\"", ""),
                    ("t(\"", ""),
                ] {
                    for (at, _) in text.match_indices(marker) {
                        // A call of that name, not the end of a longer one.
                        let before = text[..at].chars().next_back().unwrap_or(' ');
                        if before.is_alphanumeric() || before == '_' || before == '.' {
                            continue;
                        }
                        let key = text[at + marker.len()..].split('"').next().unwrap_or("");
                        if !key.is_empty() && key.contains('.') && !key.contains([' ', '{']) {
                            used.push((p.display().to_string(), format!("{prefix}{key}")));
                        }
                    }
                }
            }
        }
        assert!(
            used.len() > 100,
            "found only {} keys in the code",
            used.len()
        );
        let unknown: Vec<_> = used.iter().filter(|(_, k)| !en.contains(k)).collect();
        assert!(unknown.is_empty(), "keys not in the catalogue: {unknown:?}");
    }
}

#[cfg(test)]
mod terminology {
    /// One term per concept in Chinese (issue 18's glossary): the retired
    /// words do not come back.
    #[test]
    fn no_zh_cn_message_uses_a_retired_term() {
        let zh = include_str!("../assets/locales/zh-CN.yml");
        let retired = [
            ("拓扑", "部署模式"),
            ("部署架构", "部署模式"),
            ("告警", "警告"),
            ("运行 %{run}", "任务"),
            ("该运行", "该任务"),
            ("新的运行", "新任务"),
            ("运行目录", "任务目录"),
            ("运行锁", "任务锁"),
            ("未完成的运行", "未完成的任务"),
            ("无变化", "无变更"),
            ("从中断处", "断点续装"),
            ("已接受", "已豁免"),
            ("接受警告", "豁免警告"),
            ("VRRP 路由 ID", "VRRP 虚拟路由 ID（virtual_router_id）"),
            ("偏差", "豁免 (an accepted check) or 偏移 (a clock's skew)"),
        ];
        let mut found = Vec::new();
        for line in zh.lines() {
            for (old, new) in retired {
                if line.contains(old) {
                    found.push(format!("{line}\n    `{old}` → `{new}`"));
                }
            }
        }
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
