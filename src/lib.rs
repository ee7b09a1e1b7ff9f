//! cdwiz: the engine of the installation wizard. Front ends (the TUI and the
//! headless runner) live in the binary; everything here is UI-agnostic.

rust_i18n::i18n!("assets/locales", fallback = "en");

pub mod backup;
pub mod bundle;
pub mod catalogue;
pub mod checks;
pub mod cluster;
pub mod collect;
pub mod connect;
pub mod consent;
pub mod deploy;
pub mod disk;
pub mod docker;
pub mod drill;
pub mod event;
pub mod i18n;
pub mod installation;
pub mod outcome;
pub mod paths;
pub mod pattern;
pub mod plan;
pub mod profile;
pub mod redact;
pub mod registry;
pub mod render;
pub mod run;
pub mod rundir;
pub mod sandbox;
pub mod secret_env;
pub mod ssh;
pub mod status;
pub mod text;
