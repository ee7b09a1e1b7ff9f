//! cdwiz: the engine of the installation wizard. Front ends (the TUI and the
//! headless runner) live in the binary; everything here is UI-agnostic.

pub mod bundle;
pub mod docker;
pub mod paths;
pub mod plan;
pub mod profile;
pub mod sandbox;
pub mod ssh;
