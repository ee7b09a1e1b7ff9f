//! The command line in the operator's language: which language (`--lang`,
//! else the locale variables), and clap's help with its texts from the
//! catalogues (`cli.help.*`).

use clap::CommandFactory;

use super::Cli;

/// The operator's language: `--lang`, else the locale variables, else English.
pub(crate) fn locale(flag: Option<&str>) -> String {
    let from_env = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty());
    let raw = flag.map(str::to_string).or(from_env).unwrap_or_default();
    if raw.to_ascii_lowercase().starts_with("zh") {
        "zh-CN".into()
    } else {
        "en".into()
    }
}

/// `--lang` as given on the command line, before it is parsed (the help
/// text depends on it).
pub(crate) fn lang_flag() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--lang=")
            .map(str::to_string)
            .or_else(|| (a == "--lang").then(|| args.get(i + 1).cloned()).flatten())
    })
}

/// The command line with its help in the operator's language
/// (`cli.help.*`); English keeps the doc comments.
pub(crate) fn localized_command(lang: &str) -> clap::Command {
    let cmd = Cli::command();
    if lang == "en" {
        return cmd;
    }
    let help = |k: &str| cdwiz::i18n::text(&format!("cli.help.{k}"), lang);
    let mut cmd = localized_frame(cmd, lang)
        .about(help("about"))
        .disable_version_flag(true)
        .arg(
            clap::Arg::new("version")
                .short('V')
                .long("version")
                .action(clap::ArgAction::Version)
                .help(help("arg.version"))
                .help_heading(help("options")),
        );
    for id in [
        "profile",
        "non_interactive",
        "dry_run",
        "resume",
        "output",
        "workdir",
        "accept_check",
        "allow_env",
        "trust",
        "allow_exec",
        "expect_host_key",
        "remove_hosts",
        "allow_downgrade",
        "no_backup",
        "purge_removed",
        "yes_purge",
        "lang",
    ] {
        let (text, heading) = (help(&format!("arg.{id}")), help("options"));
        cmd = cmd.mut_arg(id, |a| localized_arg(a, text, heading, lang));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in subs {
        let path = sub.clone();
        cmd = cmd.mut_subcommand(sub, |s| localized_subcommand(s, &path, lang));
    }
    cmd
}

/// What every command's help shares in `lang`: the layout, the headings
/// and the help flag.
fn localized_frame(cmd: clap::Command, lang: &str) -> clap::Command {
    let help = |k: &str| cdwiz::i18n::text(&format!("cli.help.{k}"), lang);
    cmd.help_template(help("template"))
        .subcommand_help_heading(help("commands"))
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            clap::Arg::new("help")
                .short('h')
                .long("help")
                .action(clap::ArgAction::Help)
                .help(help("arg.help"))
                .help_heading(help("options")),
        )
}

/// A subcommand's help in `lang`: its about (`cli.help.cmd.<path>`), its
/// arguments (`cli.help.arg.<path>.<id>`), headings and the help flag, and
/// so on down its own subcommands (`path` is e.g. `sandbox.up`).
fn localized_subcommand(cmd: clap::Command, path: &str, lang: &str) -> clap::Command {
    let help = |k: &str| cdwiz::i18n::text(&format!("cli.help.{k}"), lang);
    let known = |k: &str| {
        let key = format!("cli.help.{k}");
        let text = cdwiz::i18n::text(&key, lang);
        (text != key).then_some(text)
    };
    let mut cmd = localized_frame(cmd, lang);
    if let Some(about) = known(&format!("cmd.{path}")) {
        cmd = cmd.about(about).long_about(None);
    }
    let args: Vec<(String, bool)> = cmd
        .get_arguments()
        .filter(|a| a.get_id() != "help")
        .map(|a| (a.get_id().to_string(), a.is_positional()))
        .collect();
    for (id, positional) in args {
        if let Some(text) = known(&format!("arg.{path}.{id}")) {
            let heading = help(if positional { "arguments" } else { "options" });
            cmd = cmd.mut_arg(id, |a| localized_arg(a, text, heading, lang));
        }
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in subs {
        let sub_path = format!("{path}.{sub}");
        cmd = cmd.mut_subcommand(sub, |s| localized_subcommand(s, &sub_path, lang));
    }
    cmd
}

/// An argument's help in `lang`, its default and choices said in it too
/// (clap would add them in English).
fn localized_arg(a: clap::Arg, text: String, heading: String, lang: &str) -> clap::Arg {
    let join = |v: Vec<String>| v.join(", ");
    let mut text = text;
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty() && v != "false")
        .collect();
    let choices: Vec<String> = a
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_string())
        .collect();
    if !choices.is_empty() && a.get_action().takes_values() {
        // (a flag's `true`/`false` are not choices to list)
        text = cdwiz::i18n::Msg::new("cli.help.choices")
            .arg("text", text)
            .arg("values", join(choices))
            .render(lang);
    }
    if !defaults.is_empty() {
        text = cdwiz::i18n::Msg::new("cli.help.default")
            .arg("text", text)
            .arg("value", join(defaults))
            .render(lang);
    }
    let takes_values = a.get_action().takes_values();
    let a = a.help(text).long_help(None).help_heading(heading);
    if takes_values {
        a.hide_default_value(true).hide_possible_values(true)
    } else {
        a
    }
}
