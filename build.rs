// The message catalogues are compiled in by rust-i18n's macro, which cargo
// does not know to watch: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=assets/locales");
}
