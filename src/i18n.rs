//! Messages a person reads: the engine emits a [`Msg`] (a catalogue key and
//! its arguments); front ends render it in the operator's language. The
//! catalogues are `assets/locales/<locale>.yml`, English the fallback.

use std::collections::BTreeMap;

use serde::Serialize;

/// A message by catalogue key, with named arguments (`%{name}` in the text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Msg {
    pub key: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl Msg {
    pub fn new(key: impl Into<String>) -> Self {
        Msg {
            key: key.into(),
            args: BTreeMap::new(),
        }
    }

    pub fn arg(mut self, name: &str, value: impl ToString) -> Self {
        self.args.insert(name.to_string(), value.to_string());
        self
    }

    /// The message in `locale` (falling back to English).
    pub fn render(&self, locale: &str) -> String {
        let text = rust_i18n::t!(self.key.as_str(), locale = locale);
        let names: Vec<String> = self.args.keys().cloned().collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let values: Vec<String> = self.args.values().cloned().collect();
        rust_i18n::replace_patterns(&text, &names, &values)
    }
}

/// The text of a catalogue key in `locale`.
pub fn text(key: &str, locale: &str) -> String {
    rust_i18n::t!(key, locale = locale).into_owned()
}

/// Locales with a catalogue.
pub const LOCALES: &[&str] = &["en"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_arguments_and_falls_back_to_english() {
        let m = Msg::new("test.hello").arg("name", "ops");
        assert_eq!(m.render("en"), "Hello, ops");
        assert_eq!(m.render("zh-CN"), "Hello, ops");
    }
}
