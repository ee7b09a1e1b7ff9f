//! `cdwiz-sandbox-rootfs SANDBOX_DIR`: builds the sandbox's root filesystem
//! tarballs (host and product, side by side) into `SANDBOX_DIR/build`, unless
//! cdwiz already made them into images. `scripts/demo` runs it while cdwiz
//! compiles; `cdwiz sandbox up` does the same work itself when it finds
//! nothing prepared. Exit 0 when both are ready, 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use cdwiz_sandbox_rootfs::{HOST, PRODUCT, Recipe, prepare};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: cdwiz-sandbox-rootfs SANDBOX_DIR");
        return ExitCode::from(2);
    };
    let build_dir = PathBuf::from(dir).join("build");
    let run = |recipe: &'static Recipe| {
        let build_dir = build_dir.clone();
        std::thread::spawn(move || {
            if recipe.used_mark(&build_dir).exists() {
                return true;
            }
            let started = std::time::Instant::now();
            match prepare(recipe, &build_dir) {
                Ok(path) => {
                    eprintln!(
                        "cdwiz-sandbox-rootfs: {} ready in {:.0} s: {}",
                        recipe.name,
                        started.elapsed().as_secs_f64(),
                        path.display()
                    );
                    true
                }
                Err(e) => {
                    eprintln!("cdwiz-sandbox-rootfs: {}: {e}", recipe.name);
                    false
                }
            }
        })
    };
    let jobs = [run(&HOST), run(&PRODUCT)];
    let ok = jobs.into_iter().all(|j| j.join().unwrap_or(false));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
