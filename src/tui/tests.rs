//! The wizard without a terminal: keys and engine events fed to the app's
//! update functions, asserting on the state; and every screen drawn on a
//! `TestBackend` at 80×24 and 160×48, in English and Chinese, compared with
//! the snapshots in `src/tui/snapshots/`.

use std::path::PathBuf;

use cdwiz::checks::{CheckResult, Status};
use cdwiz::event::{Event, StepOutcome};
use cdwiz::i18n::Msg;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Command, LOG_LINES, Outcome, Screen};
use super::screens;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        app.on_key(key(code));
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documentation-address HA profile of the golden tests.
fn ha_app(locale: &str) -> App {
    let profile = root().join("tests/profiles/good/ha-keepalived.yaml");
    let answers = cdwiz::profile::load_file_for_wizard(&profile).unwrap();
    App::new(Some(answers), Some(PathBuf::from("ha.yaml")), locale)
}

fn result(id: &'static str, host: &str, status: Status) -> CheckResult {
    // What a real run says for the checks the fixtures show.
    let detail = match (id, status) {
        ("os.kernel", Status::Fail) => Msg::new("check.os.kernel.old")
            .arg("kernel", "3.10.0-1160")
            .arg("need", "4.18"),
        ("res.memory", Status::Warn) => Msg::new("check.res.memory.low")
            .arg("have", 8)
            .arg("need", 16),
        ("net.hostname-unique", Status::Fail) => Msg::new("check.net.hostname-unique.dup")
            .arg("name", "node1")
            .arg("others", "192.0.2.12"),
        (_, Status::Skip) => {
            Msg::new("check.common.not-this-topology").arg("topology", "ha-keepalived")
        }
        ("ssh.reach", _) => Msg::new("check.ssh.reach.ok").arg("ms", "0.4"),
        ("os.kernel", _) => Msg::new("check.os.kernel.ok").arg("kernel", "5.10.0-28"),
        ("res.memory", _) => Msg::new("check.res.memory.ok")
            .arg("have", 32)
            .arg("need", 16),
        _ => Msg::from("ok"),
    };
    let mut r = CheckResult::new(id, (host != "*").then_some(host), status, detail);
    match (id, status) {
        ("os.kernel", Status::Fail) => r.hint = Some(Msg::new("check.os.kernel.hint")),
        ("res.memory", Status::Warn) => r.hint = Some(Msg::new("check.res.memory.hint")),
        ("net.hostname-unique", Status::Fail) => {
            r.hint = Some(Msg::new("check.net.hostname-unique.hint"));
            r.fix = Some("hostnamectl set-hostname node1-11".into());
        }
        _ => {}
    }
    r
}

/// The documentation k8s profile of the golden tests.
fn k8s_app(locale: &str) -> App {
    let profile = root().join("tests/profiles/good/k8s.yaml");
    let answers = cdwiz::profile::load_file_for_wizard(&profile).unwrap();
    App::new(Some(answers), Some(PathBuf::from("k8s.yaml")), locale)
}

/// The cluster checks of a k8s install, one failing, two to come.
fn k8s_checks_app(locale: &str) -> App {
    let mut app = k8s_app(locale);
    app.screen = Screen::Checks;
    app.checks.running = true;
    for id in cdwiz::catalogue::CLUSTER_CHECKS.iter().take(7) {
        let status = if *id == "k8s.storage-class" {
            Status::Fail
        } else {
            Status::Pass
        };
        app.on_event(Event::CheckFinished(result(id, "*", status)));
    }
    app.checks.row = 6; // k8s.storage-class
    app
}

/// A k8s deploy pushing the bundle's images into the registry first: its
/// own pane, with bytes.
fn k8s_push_app(locale: &str) -> App {
    let mut app = k8s_app(locale);
    app.screen = Screen::Deploy;
    app.deploy.running = true;
    app.on_event(Event::DeployStarted {
        steps: vec![
            (cdwiz::deploy::k8s::REGISTRY.into(), 1),
            (cdwiz::deploy::CLUSTER.into(), 3),
            ("mysql".into(), 2),
            ("backend".into(), 2),
        ],
    });
    app.on_event(Event::StepStarted {
        host: cdwiz::deploy::k8s::REGISTRY.into(),
        step: "push".into(),
    });
    for line in [
        "registry.example.com/cd: 2 images; 265.2 MB of 265.2 MB to send (3 of 3 blobs missing)",
        "cd/mysql:8.0: sha256:6ea02364a016 sent, 0.0 MB in 0.0 s",
    ] {
        app.on_event(Event::HostLog {
            host: cdwiz::deploy::k8s::REGISTRY.into(),
            line: line.into(),
        });
    }
    app.on_event(Event::ImageProgress {
        host: cdwiz::deploy::k8s::REGISTRY.into(),
        sent: 120_000_000,
        total: 265_200_000,
    });
    app
}

/// A k8s deploy: components as panes, the cluster's own steps first.
fn k8s_deploy_app(locale: &str) -> App {
    let mut app = k8s_app(locale);
    app.screen = Screen::Deploy;
    app.deploy.running = true;
    app.on_event(Event::DeployStarted {
        steps: vec![
            (cdwiz::deploy::CLUSTER.into(), 3),
            ("mysql".into(), 2),
            ("backend".into(), 2),
        ],
    });
    for step in ["namespace", "secret"] {
        app.on_event(Event::DeployStep {
            host: cdwiz::deploy::CLUSTER.into(),
            step: step.into(),
            outcome: StepOutcome::Changed,
            secs: 0.1,
        });
    }
    for (step, outcome) in [
        ("apply", StepOutcome::Changed),
        ("rollout", StepOutcome::Changed),
    ] {
        app.on_event(Event::DeployStep {
            host: "mysql".into(),
            step: step.into(),
            outcome,
            secs: 4.0,
        });
    }
    app.on_event(Event::DeployStep {
        host: "backend".into(),
        step: "apply".into(),
        outcome: StepOutcome::Changed,
        secs: 0.1,
    });
    app.on_event(Event::StepStarted {
        host: "backend".into(),
        step: "rollout".into(),
    });
    for line in [
        "Deployment backend: 0 of 2 ready, 2 updated",
        "[backend-7d9f-x2x] starting on :8080",
        "[backend-7d9f-x2x] connected to mysql:3306",
    ] {
        app.on_event(Event::HostLog {
            host: "backend".into(),
            line: line.into(),
        });
    }
    app
}

fn checks_app(locale: &str) -> App {
    let mut app = ha_app(locale);
    app.screen = Screen::Checks;
    app.checks.running = true;
    let hosts = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for def in cdwiz::checks::CATALOGUE.iter().take(18) {
        for (i, h) in hosts.iter().enumerate() {
            if def.cross_host || (i == 2 && def.id.starts_with("res.")) {
                continue;
            }
            let status = match (def.id, i) {
                ("res.memory", 1) => Status::Warn,
                ("os.kernel", 0) => Status::Fail,
                ("ssh.root", _) => Status::Skip,
                _ => Status::Pass,
            };
            app.on_event(Event::CheckFinished(result(def.id, h, status)));
        }
    }
    app.checks.row = 4; // os.kernel
    app
}

/// The checks finished: every host check on every host, the cross-host
/// checks in `*`.
fn checks_done_app(locale: &str) -> App {
    let mut app = checks_app(locale);
    let hosts = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for def in cdwiz::checks::CATALOGUE {
        let on: &[&str] = if def.cross_host { &["*"] } else { &hosts };
        for h in on {
            if !app
                .checks
                .results
                .contains_key(&(def.id.to_string(), h.to_string()))
            {
                app.on_event(Event::CheckFinished(result(def.id, h, Status::Pass)));
            }
        }
    }
    app.checks_done(1.2);
    app
}

/// The checks done on a first contact: the login's row selected, its
/// detail naming the fingerprint of the key now remembered.
fn first_contact_app(locale: &str) -> App {
    let mut app = checks_done_app(locale);
    app.on_event(Event::CheckFinished(CheckResult::new(
        "ssh.login",
        Some("192.0.2.11"),
        Status::Pass,
        Msg::new("check.ssh.login.ok-first")
            .arg("user", "root")
            .arg("fp", "SHA256:uJ9Qm3vX0c8Jw1u5mZk2bq7cH4dTz6yKpQ0sV1rA2eE"),
    )));
    app.checks.row = cdwiz::checks::CATALOGUE
        .iter()
        .position(|c| c.id == "ssh.login")
        .unwrap();
    app
}

/// Twelve hosts, the checks done; two of them share a hostname.
fn twelve_hosts_app(locale: &str) -> App {
    let hosts: String = (11..23)
        .map(|i| format!("  - {{ address: 192.0.2.{i}, roles: [master] }}\n"))
        .collect();
    let answers: cdwiz::profile::Answers = serde_yaml::from_str(&format!(
        "version: 1\nbundle: ./cd-bundle-3.2.0\n\
         topology: {{ kind: ha-keepalived, vip: 192.0.2.100, interface: eth0 }}\n\
         ssh: {{ user: root, auth: password, password-env: CDWIZ_SSH_PASSWORD }}\nhosts:\n{hosts}"
    ))
    .unwrap();
    let mut app = App::new(Some(answers), Some(PathBuf::from("ha12.yaml")), locale);
    app.screen = Screen::Checks;
    let addrs: Vec<String> = app
        .answers
        .hosts
        .iter()
        .map(|h| h.address.clone())
        .collect();
    for def in cdwiz::checks::CATALOGUE {
        if def.cross_host {
            app.on_event(Event::CheckFinished(result(def.id, "*", Status::Pass)));
            continue;
        }
        for (i, h) in addrs.iter().enumerate() {
            let status = match (def.id, i) {
                ("net.hostname-unique", 0 | 1) => Status::Fail,
                ("res.memory", 11) => Status::Warn,
                _ => Status::Pass,
            };
            app.on_event(Event::CheckFinished(result(def.id, h, status)));
        }
    }
    app.checks_done(1.2);
    app
}

fn deploy_app(locale: &str) -> App {
    let mut app = ha_app(locale);
    app.screen = Screen::Deploy;
    app.deploy.running = true;
    app.on_event(Event::DeployStarted {
        steps: vec![
            ("192.0.2.11".into(), 9),
            ("192.0.2.12".into(), 7),
            ("192.0.2.13".into(), 7),
            (cdwiz::deploy::CLUSTER.into(), 1),
        ],
    });
    for (h, n) in [("192.0.2.11", 6), ("192.0.2.12", 4), ("192.0.2.13", 2)] {
        for i in 0..n {
            app.on_event(Event::DeployStep {
                host: h.into(),
                step: format!("step {i}"),
                outcome: StepOutcome::Changed,
                secs: 1.0,
            });
        }
        for i in 0..30 {
            app.on_event(Event::HostLog {
                host: h.into(),
                line: format!("{h} line {i}: loading layer {i} of 30"),
            });
        }
    }
    app.on_event(Event::StepStarted {
        host: "192.0.2.11".into(),
        step: "component backend".into(),
    });
    app.on_event(Event::StepStarted {
        host: "192.0.2.12".into(),
        step: "images".into(),
    });
    app.on_event(Event::ImageProgress {
        host: "192.0.2.12".into(),
        sent: 120_000_000,
        total: 254_000_000,
    });
    app.on_event(Event::DeployStep {
        host: "192.0.2.13".into(),
        step: "images".into(),
        outcome: StepOutcome::Failed {
            message: "ssh: connection closed".into(),
            code: None,
            last_lines: vec![],
        },
        secs: 3.0,
    });
    app
}

fn summary_app(locale: &str, ok: bool) -> App {
    let mut app = ha_app(locale);
    app.deploy_done(Outcome {
        ok,
        cancelled: false,
        url: Some("http://192.0.2.100/".into()),
        failures: if ok {
            vec![]
        } else {
            vec![(
                "192.0.2.13".into(),
                "images".into(),
                "ssh: connection closed".into(),
                vec![
                    "images: started".into(),
                    "loading cd-sandbox-runtime.tar".into(),
                ],
            )]
        },
        run_dir: PathBuf::from("/root/.local/share/cdwiz/runs/20261123-101500-abcd"),
        secrets: PathBuf::from("/root/.local/share/cdwiz/installs/0123456789abcdef/secrets.yaml"),
        summary: PathBuf::from("/root/.local/share/cdwiz/runs/20261123-101500-abcd/summary.md"),
        secs: 42.0,
    });
    app
}

fn review_app(locale: &str) -> App {
    let mut app = ha_app(locale);
    let bundle = cdwiz::bundle::Bundle::open(&root().join("assets/products/cd")).unwrap();
    app.rendered = Ok(cdwiz::render::render(&app.answers, &bundle.manifest, None).unwrap());
    app.clusters = cdwiz::plan::clusters(&app.answers, &bundle.manifest);
    app.screen = Screen::Review;
    app.review_row = 1;
    app.sources = listed_sources();
    app
}

/// What a profile from someone else takes from this machine: a hook with
/// its hash, a variable, a secret file (no hash).
fn listed_sources() -> Vec<cdwiz::profile::sources::ListedSource> {
    use cdwiz::profile::sources::{ListedSource, SourceKind};
    vec![
        ListedSource {
            field: "hooks.pre-deploy".into(),
            kind: SourceKind::Hook,
            from: "/home/eng/.ssh/id_ed25519".into(),
            sha256: Some("4a3ec3730504983f960fb2df35a1d68d640ff55d151fa3128ca0fc707f86882e".into()),
        },
        ListedSource {
            field: "ssh.password-env".into(),
            kind: SourceKind::Env,
            from: "env AWS_SECRET_ACCESS_KEY".into(),
            sha256: None,
        },
        ListedSource {
            field: "hosts[1].ssh.password-file".into(),
            kind: SourceKind::SecretFile,
            from: "/home/eng/pw".into(),
            sha256: None,
        },
    ]
}

fn consent_app(locale: &str) -> App {
    let mut app = ha_app(locale);
    app.consent = listed_sources();
    app
}

/// A profile that takes many files: the list is cut at the frame, the
/// answers stay in sight.
fn consent_long_app(locale: &str) -> App {
    let mut app = consent_app(locale);
    for i in 0..12 {
        let mut s = listed_sources()[2].clone();
        s.field = format!("hosts[{i}].ssh.password-file");
        s.from = format!("/home/eng/site/pw-{i}");
        app.consent.push(s);
    }
    app
}

/// The addresses of the app's hosts, in order.
fn addresses(app: &App) -> Vec<String> {
    app.answers
        .hosts
        .iter()
        .map(|h| h.address.clone())
        .collect()
}

/// Review of a run that adds a host and upgrades the others host by host.
fn review_upgrade_app(locale: &str) -> App {
    let mut app = review_app(locale);
    let hosts = addresses(&app);
    app.membership = Some(cdwiz::installation::Membership {
        new: hosts[hosts.len() - 1..].to_vec(),
        kept: hosts[..hosts.len() - 1].to_vec(),
        removed: Vec::new(),
    });
    app.release = Some(cdwiz::plan::PlannedRelease {
        product: "cd".into(),
        from: Some("3.1.0".into()),
        to: "3.2.0".into(),
        change: "upgrade".into(),
        host_by_host: true,
    });
    app
}

/// Review of a mixed cluster: an amd64 and an arm64 host, and one whose
/// architecture the bundle lacks.
fn review_arch_app(locale: &str) -> App {
    let mut app = review_app(locale);
    let hosts = addresses(&app);
    let machine = |arch: &str, archive: Option<&str>| cdwiz::deploy::Machine {
        arch: arch.into(),
        archive: archive.map(str::to_string),
    };
    app.machines = [
        (
            hosts[0].clone(),
            machine("amd64", Some("images/amd64/cd-3.2.0-amd64.tar")),
        ),
        (
            hosts[1].clone(),
            machine("arm64", Some("images/arm64/cd-3.2.0-arm64.tar")),
        ),
    ]
    .into();
    app
}

fn hosts_app(locale: &str) -> App {
    let mut app = App::new(None, None, locale);
    app.on_key(key(KeyCode::Enter)); // welcome → topology
    app.on_key(key(KeyCode::Down)); // ha-keepalived
    app.on_key(key(KeyCode::Enter));
    typed(&mut app, "192.0.2.11\n192.0.2.12\n192.0.2.300");
    app.on_key(key(KeyCode::Tab)); // user
    app.on_key(key(KeyCode::Tab)); // port
    app.on_key(key(KeyCode::Tab)); // password
    typed(&mut app, "s3cret-pw");
    app
}

/// Every screen in a state worth seeing.
fn screens_for(locale: &str) -> Vec<(&'static str, App)> {
    let mut topology = App::new(None, None, locale);
    topology.on_key(key(KeyCode::Enter));
    topology.on_key(key(KeyCode::Down));
    let mut settings = ha_app(locale);
    settings.screen = Screen::Settings;
    let mut help = ha_app(locale);
    help.screen = Screen::Settings;
    help.help = true;
    let mut quit = deploy_app(locale);
    quit.confirm_quit = true;
    let mut k8s_settings = k8s_app(locale);
    k8s_settings.screen = Screen::Settings;
    let mut login = ha_app(locale);
    login.screen = Screen::Hosts;
    login.on_key(ctrl('l'));
    let mut host = ha_app(locale);
    host.screen = Screen::Hosts;
    host.on_key(ctrl('e'));
    vec![
        ("hosts-login", login),
        ("hosts-host", host),
        ("welcome", App::new(None, None, locale)),
        ("topology", topology),
        ("hosts", hosts_app(locale)),
        ("settings", settings),
        ("checks", checks_app(locale)),
        ("checks-done", checks_done_app(locale)),
        ("checks-first-contact", first_contact_app(locale)),
        ("review", review_app(locale)),
        ("consent", consent_app(locale)),
        ("consent-long", consent_long_app(locale)),
        ("review-upgrade", review_upgrade_app(locale)),
        ("review-arch", review_arch_app(locale)),
        ("deploy", deploy_app(locale)),
        ("summary-ok", summary_app(locale, true)),
        ("summary-failed", summary_app(locale, false)),
        ("help", help),
        ("quit-during-deploy", quit),
        ("k8s-settings", k8s_settings),
        ("k8s-checks", k8s_checks_app(locale)),
        ("k8s-deploy", k8s_deploy_app(locale)),
        ("k8s-push", k8s_push_app(locale)),
    ]
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| screens::draw(f, app)).unwrap();
    t.backend().to_string()
}

/// With `NO_COLOR` every screen is drawn without a colour, the focus and
/// the selection in reverse video instead.
#[test]
fn no_color_draws_every_screen_without_a_colour() {
    use ratatui::style::{Color, Modifier};
    for (name, mut app) in screens_for("en") {
        app.no_color = true;
        let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
        t.draw(|f| screens::draw(f, &app)).unwrap();
        let buffer = t.backend().buffer();
        let coloured: Vec<String> = buffer
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .map(|c| format!("{:?} on {:?}: {:?}", c.fg, c.bg, c.symbol()))
            .take(5)
            .collect();
        assert!(coloured.is_empty(), "{name}: coloured cells {coloured:?}");
        assert!(
            buffer
                .content()
                .iter()
                .any(|c| c.modifier.contains(Modifier::REVERSED)),
            "{name}: nothing in reverse video (the focus)"
        );
    }
}

#[test]
fn every_screen_in_both_languages_and_two_sizes() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for locale in ["en", "zh-CN"] {
            for (name, app) in screens_for(locale) {
                for (w, h) in [(80, 24), (160, 48)] {
                    let screen = draw(&app, w, h);
                    // No secret on any screen.
                    assert!(
                        !screen.contains("s3cret-pw"),
                        "{name}: the password is shown"
                    );
                    insta::assert_snapshot!(format!("{name}-{locale}-{w}x{h}"), screen);
                }
            }
        }
    });
}

/// At 80×24 in Chinese (the widest labels) every key of every screen is in
/// its footer, with `?` and `q`.
#[test]
fn every_footer_key_is_visible_at_80x24_in_chinese() {
    for (name, app) in screens_for("zh-CN") {
        let screen = draw(&app, 80, 24);
        let footer: Vec<&str> = screen.lines().rev().take(3).collect();
        let footer = footer.join("\n");
        let mut keys = screens::keys(&app);
        keys.extend([("?", "wizard.key.help"), ("q", "wizard.key.quit")]);
        for (k, what) in keys {
            let shown = format!(" {k}  {} ", app.t(what));
            assert!(
                footer.contains(&shown),
                "{name}: `{shown}` is not in the footer:\n{footer}"
            );
        }
    }
}

/// `?` is help from an empty text field too, typed into one that holds
/// text (a password may contain it); F1 is help everywhere.
#[test]
fn help_opens_from_text_fields() {
    let mut app = App::new(None, None, "en");
    app.on_key(key(KeyCode::Enter)); // welcome → topology
    app.on_key(key(KeyCode::Enter)); // single → hosts, in the empty address field
    assert!(app.typing());
    app.on_key(key(KeyCode::Char('?')));
    assert!(app.help, "? in an empty field opens help");
    app.on_key(key(KeyCode::Esc)); // closes help
    assert!(!app.help);
    typed(&mut app, "192.0.2.11?");
    assert!(!app.help, "? after text is typed");
    assert!(
        app.answers
            .hosts
            .first()
            .is_some_and(|h| h.address.ends_with('?')),
        "{:?}",
        app.answers.hosts
    );
    app.on_key(key(KeyCode::F(1)));
    assert!(app.help, "F1 opens help from a field with text");
}

/// Twelve hosts at 80×24: the grid scrolls sideways to the selection (the
/// last host, then the cross-host column), and both hosts that share a name
/// show their ✗.
#[test]
fn the_checks_grid_scrolls_to_every_host_and_draws_every_result() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for locale in ["en", "zh-CN"] {
            let mut app = twelve_hosts_app(locale);
            let row = screens::checks::rows(&app)
                .iter()
                .position(|(id, _)| *id == "net.hostname-unique")
                .unwrap();
            app.checks.row = row;
            // The first screen: both duplicates' cells are ✗.
            let screen = draw(&app, 80, 24);
            // The grid's row starts with the check's title (perhaps cut).
            let start: String = app
                .t("check.net.hostname-unique.title")
                .chars()
                .take(4)
                .collect();
            let line = screen
                .lines()
                .find(|l| l.strip_prefix("\"│").is_some_and(|r| r.starts_with(&start)))
                .unwrap_or_else(|| panic!("no hostname row:\n{screen}"));
            assert_eq!(line.matches('✗').count(), 2, "{line}");
            let fails = app.checks.count(Status::Fail);
            assert!(
                screen.contains(&format!("{fails}")) && fails == 2,
                "{screen}"
            );
            // The last host, then `*`.
            app.checks.col = 11;
            let screen = draw(&app, 80, 24);
            assert!(
                screen.contains(".22"),
                "the last host is not shown:\n{screen}"
            );
            insta::assert_snapshot!(format!("checks-12-last-host-{locale}-80x24"), screen);
            app.checks.col = 12;
            let screen = draw(&app, 80, 24);
            assert!(
                screen.contains("  *  "),
                "the cross-host column is not shown:\n{screen}"
            );
            insta::assert_snapshot!(format!("checks-12-cross-{locale}-80x24"), screen);
        }
    });
}

#[test]
fn typing_hosts_validates_inline_and_blocks_next_until_fixed() {
    let mut app = hosts_app("en");
    assert_eq!(app.screen, Screen::Hosts);
    let addrs: Vec<&str> = app
        .answers
        .hosts
        .iter()
        .map(|h| h.address.as_str())
        .collect();
    assert_eq!(addrs, ["192.0.2.11", "192.0.2.12", "192.0.2.300"]);
    assert!(
        app.problems.iter().any(|p| p.path == "hosts[2].address"),
        "{:?}",
        app.problems
    );
    assert_eq!(app.typed_password().as_deref(), Some("s3cret-pw"));
    // Next (via the button) refuses while a field is wrong.
    app.hosts_form.focus_next_button();
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert_eq!(app.screen, Screen::Hosts);
    assert!(app.message.is_some());
    // Fix the third address.
    app.hosts_form.focus = 0;
    for _ in 0..3 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "13");
    assert!(
        app.problems_for(&["hosts"]).is_empty(),
        "{:?}",
        app.problems
    );
    // HA roles: masters, the last also a worker; Ctrl-R cycles the cursor line's.
    assert_eq!(app.answers.hosts[2].roles.len(), 2);
    app.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert_eq!(app.answers.hosts[2].roles, [cdwiz::profile::Role::Worker]);
    app.hosts_form.focus_next_button();
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert_eq!(app.screen, Screen::Settings);
    // The saved profile has no password, only where it comes from.
    let yaml = serde_yaml::to_string(&app.profile_answers()).unwrap();
    assert!(!yaml.contains("s3cret-pw") && yaml.contains("password-env: CDWIZ_SSH_PASSWORD"));
}

#[test]
fn a_pasted_list_of_addresses_becomes_host_rows() {
    let mut app = App::new(None, None, "en");
    app.on_key(key(KeyCode::Enter));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Enter));
    app.on_paste("192.0.2.21\n192.0.2.22, 192.0.2.23\n\n192.0.2.24\n");
    assert_eq!(app.answers.hosts.len(), 4);
}

#[test]
fn settings_lead_to_checks_which_gate_on_fails_and_warns() {
    let mut app = ha_app("en");
    app.screen = Screen::Settings;
    // Saved answers open on the Next button: Enter confirms.
    assert_eq!(app.on_key(key(KeyCode::Enter)), Some(Command::RunChecks));
    assert_eq!(app.screen, Screen::Checks);
    let mut app = checks_app("en");
    app.checks_done(1.0);
    assert_eq!(app.on_key(key(KeyCode::Enter)), None, "a fail blocks");
    assert!(app.message.as_deref().unwrap().contains("Failed checks"));
    // Without the fail, the warn needs an accept.
    app.checks.results.retain(|_, r| r.status != Status::Fail);
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert!(app.message.as_deref().unwrap().contains("press a"));
    app.on_key(key(KeyCode::Char('a')));
    assert_eq!(app.on_key(key(KeyCode::Enter)), Some(Command::Render));
    assert_eq!(app.screen, Screen::Review);
    // The accepted warning goes into the saved profile.
    assert!(
        app.profile_answers()
            .accept_checks
            .iter()
            .any(|w| w.check == "res.memory")
    );
}

#[test]
fn deploy_logs_stay_bounded_and_quitting_stops_between_steps() {
    let mut app = deploy_app("en");
    for i in 0..(LOG_LINES * 3) {
        app.on_event(Event::HostLog {
            host: "192.0.2.11".into(),
            line: format!("line {i}"),
        });
    }
    let h = &app.deploy.hosts["192.0.2.11"];
    assert_eq!(h.log.len(), LOG_LINES);
    assert_eq!(
        h.log.back().unwrap(),
        &format!("line {}", LOG_LINES * 3 - 1)
    );
    assert_eq!(app.deploy.totals(), (12, 24));
    assert!(app.deploy.hosts["192.0.2.13"].failed.is_some());
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.confirm_quit);
    assert_eq!(
        app.on_key(key(KeyCode::Char('y'))),
        Some(Command::StopDeploy)
    );
    assert!(app.deploy.stopping);
    // z zooms the selected host's log.
    app.on_key(key(KeyCode::Char('z')));
    assert!(app.deploy.zoom);
}

#[test]
fn the_language_switches_live_on_the_welcome_screen() {
    let mut app = App::new(None, None, "en");
    let before = draw(&app, 80, 24);
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.locale, "zh-CN");
    let after = draw(&app, 80, 24);
    assert!(before.contains("Press Enter to begin"));
    assert!(after.contains("按回车键开始"));
}

#[test]
fn letters_are_text_in_a_field_and_keys_elsewhere() {
    let mut app = hosts_app("en");
    app.hosts_form.focus = 1; // SSH user
    app.on_key(key(KeyCode::Char('q')));
    assert!(!app.confirm_quit, "q typed into a field");
    app.hosts_form.focus_next_button();
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.confirm_quit);
    assert_eq!(app.on_key(key(KeyCode::Char('n'))), None);
    assert_eq!(app.on_key(key(KeyCode::Char('?'))), None);
    assert!(app.help);
}

#[test]
fn typing_on_the_settings_screen_fills_the_vip() {
    let mut app = hosts_app("en");
    app.hosts_form.focus = 0;
    for _ in 0..3 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "13");
    app.hosts_form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Settings);
    assert_eq!(app.settings_form.focus, 0);
    typed(&mut app, "192.0.2.100");
    assert_eq!(app.answers.topology.vip.as_deref(), Some("192.0.2.100"));
}

#[test]
fn a_failed_check_accepted_with_a_reason_no_longer_blocks() {
    let mut app = checks_app("en");
    app.checks_done(1.0);
    app.checks.row = 4; // os.kernel, failed on the first host
    app.checks.col = 0;
    app.on_key(key(KeyCode::Char('w')));
    assert!(app.waiving.is_some() && app.typing());
    // An empty reason is refused.
    app.on_key(key(KeyCode::Enter));
    assert!(app.waiving.is_none() && app.message.is_some());
    app.on_key(key(KeyCode::Char('w')));
    typed(
        &mut app,
        "kernel 3.10 is what the customer runs; vendor-supported",
    );
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.checks.count(Status::Fail), 0);
    let w = app.answers.accept_checks.last().unwrap();
    assert_eq!(
        (w.check.as_str(), w.host.as_deref()),
        ("os.kernel", Some("192.0.2.11"))
    );
    assert!(w.reason.starts_with("kernel 3.10"));
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains('~'),
        "an accepted cell is marked:\n{screen}"
    );
}

#[test]
fn a_failed_deploy_is_retried_where_it_stopped() {
    let mut app = summary_app("en", false);
    assert_eq!(app.screen, Screen::Summary);
    assert_eq!(app.on_key(key(KeyCode::Char('r'))), Some(Command::Retry));
    assert_eq!(app.screen, Screen::Deploy);
    assert!(app.deploy.running);
    // Nothing to retry after a success.
    let mut ok = summary_app("en", true);
    assert_eq!(ok.on_key(key(KeyCode::Char('r'))), None);
}

/// Keys built at run time (screen titles, topologies) are in both catalogues.
#[test]
fn computed_catalogue_keys_exist() {
    let mut keys: Vec<String> = Screen::ALL
        .iter()
        .map(|s| format!("wizard.{}.title", s.key()))
        .collect();
    for k in super::app::TOPOLOGIES {
        for suffix in ["", ".about", ".needs"] {
            keys.push(format!("wizard.topology.{}{suffix}", k.as_str()));
        }
    }
    for outcome in ["changed", "unchanged", "done", "failed", "skipped"] {
        keys.push(format!("deploy.outcome.{outcome}"));
    }
    for locale in cdwiz::i18n::LOCALES {
        for k in &keys {
            assert_ne!(&cdwiz::i18n::text(k, locale), k, "{locale} lacks {k}");
        }
    }
}

#[test]
fn one_host_is_checked_again_and_the_others_keep_their_results() {
    let mut app = checks_app("en");
    app.checks_done(1.0);
    app.checks.col = 1; // 192.0.2.12
    let before = app.checks.results.len();
    assert_eq!(
        app.on_key(key(KeyCode::Char('r'))),
        Some(Command::RunChecksFor("192.0.2.12".into()))
    );
    assert!(app.checks.running);
    let left = app.checks.results.len();
    assert!(left < before);
    assert!(app.checks.results.keys().all(|(_, h)| h != "192.0.2.12"));
    // Results of other hosts from that run are ignored.
    app.on_event(Event::CheckFinished(result(
        "os.arch",
        "192.0.2.11",
        Status::Fail,
    )));
    app.on_event(Event::CheckFinished(result(
        "os.arch",
        "192.0.2.12",
        Status::Pass,
    )));
    assert_eq!(app.checks.results.len(), left + 1);
    assert_eq!(
        app.checks.results[&("os.arch".to_string(), "192.0.2.11".to_string())].status,
        Status::Pass
    );
    // R checks every host again.
    app.checks_done(1.0);
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT)),
        Some(Command::RunChecks)
    );
}

#[test]
fn the_welcome_screen_offers_resume_and_uninstall_for_a_loaded_profile() {
    let mut fresh = App::new(None, None, "en");
    assert_eq!(
        fresh.welcome_actions(),
        ["wizard.welcome.action-new", "wizard.welcome.action-quit"]
    );
    assert_eq!(fresh.on_key(key(KeyCode::Enter)), None);
    assert_eq!(fresh.screen, Screen::Topology);

    let mut app = ha_app("en");
    let dir = PathBuf::from("/root/.local/share/cdwiz/runs/20261123-101500-abcd");
    app.resumable = Some((dir.clone(), "20261123-101500-abcd".into()));
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("Resume the unfinished run (20261123-101500-abcd)"),
        "{screen}"
    );
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.on_key(key(KeyCode::Enter)), Some(Command::Resume(dir)));
    assert_eq!(app.screen, Screen::Deploy);

    // Status (no resumable run): asks once at a time; its lines replace the
    // introduction.
    let mut app = ha_app("en");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.on_key(key(KeyCode::Enter)), Some(Command::Status));
    assert!(app.busy);
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        None,
        "one status at a time"
    );
    app.busy = false;
    app.status = Some(vec!["192.0.2.11".into(), "  web  running  healthy".into()]);
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("Status") && screen.contains("web  running  healthy"),
        "{screen}"
    );

    let mut app = ha_app("en");
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down)); // uninstall (no resumable run)
    assert_eq!(app.on_key(key(KeyCode::Enter)), Some(Command::Uninstall));
    assert!(app.busy);
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        None,
        "one uninstall at a time"
    );
}

/// Loading a good profile and going through the forms unchanged gives back
/// the same profile: nothing a form does not show is lost, and a value one
/// host has on its own is not overwritten by another's.
#[test]
fn every_good_profile_survives_the_forms_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/good");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5);
    let mut changed = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let loaded = cdwiz::profile::load_file_for_wizard(&path).unwrap();
        let mut app = App::new(Some(loaded.clone()), Some(path), "en");
        app.sync();
        let saved = app.profile_answers();
        if saved != loaded {
            changed.push(format!(
                "{name}:\n--- loaded\n{}--- saved\n{}",
                serde_yaml::to_string(&loaded).unwrap(),
                serde_yaml::to_string(&saved).unwrap()
            ));
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}

/// Ctrl-E edits the cursor line's host (its own login user and port, data
/// disk and dir), Ctrl-A applies the values to every host; Ctrl-L edits
/// the login of all (auth, key file, sudo password, bastion). Applied
/// unchanged, neither dialog changes the answers.
#[test]
fn the_hosts_dialogs_say_what_a_profile_can() {
    let mut app = ha_app("en");
    app.screen = Screen::Hosts;
    app.hosts_form.focus = 0;
    let loaded = app.answers.clone();
    // Unchanged: nothing moves.
    for c in ['e', 'l'] {
        app.on_key(ctrl(c));
        assert!(app.dialog.is_some());
        app.dialog.as_mut().unwrap().form.focus_next_button();
        app.on_key(key(KeyCode::Enter));
        assert!(app.dialog.is_none());
        assert_eq!(app.answers, loaded, "ctrl-{c} applied unchanged");
    }
    // The second host gets its own user and port.
    app.hosts_form.fields[0]
        .input
        .move_cursor(ratatui_textarea::CursorMove::Top);
    app.hosts_form.fields[0]
        .input
        .move_cursor(ratatui_textarea::CursorMove::Down);
    app.on_key(ctrl('e'));
    let f = &mut app.dialog.as_mut().unwrap().form;
    f.focus = 0;
    for _ in 0..4 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "deploy\n");
    for _ in 0..2 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "2222");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    let own = app.answers.hosts[1].ssh.clone().unwrap();
    assert_eq!(
        (own.user.as_deref(), own.port),
        (Some("deploy"), Some(2222))
    );
    assert_eq!(app.answers.hosts[0].ssh, None);
    assert_eq!(app.answers.hosts[2].ssh, None);
    // The data dir for every host at once.
    app.on_key(ctrl('e'));
    let f = &mut app.dialog.as_mut().unwrap().form;
    f.focus = 7;
    for _ in 0..5 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "/srv/cd");
    app.on_key(ctrl('a'));
    assert!(app.answers.hosts.iter().all(|h| h.data_dir == "/srv/cd"));
    // The second host's architecture: a word that is none is refused (the
    // dialog stays), arm64 is kept.
    app.on_key(ctrl('e'));
    app.dialog.as_mut().unwrap().form.focus = 8;
    typed(&mut app, "sparc");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_some(), "sparc was taken");
    assert!(app.answers.hosts.iter().all(|h| h.arch.is_none()));
    app.dialog.as_mut().unwrap().form.focus = 8;
    for _ in 0..5 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "arm64");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_none());
    assert_eq!(
        app.answers.hosts.iter().map(|h| h.arch).collect::<Vec<_>>(),
        [None, Some(cdwiz::profile::Arch::Arm64), None]
    );
    // The login: key auth, a sudo password, a bastion with its own key.
    app.on_key(ctrl('l'));
    app.dialog.as_mut().unwrap().form.focus = 0;
    for _ in 0..8 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(
        &mut app,
        "key\n~/.ssh/site\ns3cret-pw\nops@198.51.100.10:2200\n~/.ssh/bastion\n\n",
    );
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_none(), "{:?}", app.message);
    assert_eq!(app.typed.sudo_password.as_deref(), Some("s3cret-pw"));
    let saved = serde_yaml::to_string(&app.profile_answers()).unwrap();
    assert!(!saved.contains("s3cret-pw"), "{saved}");
    let back: cdwiz::profile::Answers = serde_yaml::from_str(&saved).unwrap();
    let b = back.bastion().unwrap();
    assert_eq!(
        b.describe(),
        "ops@198.51.100.10:2200 (key ~/.ssh/bastion)",
        "{saved}"
    );
    assert_eq!(
        back.login(&back.hosts[1]).describe("192.0.2.12"),
        "deploy@192.0.2.12:2222 (key ~/.ssh/site, sudo password from $CDWIZ_SUDO_PASSWORD)"
    );
    assert!(cdwiz::profile::validate(&back).is_empty(), "{saved}");
    // The third host logs in by a password of its own; the bastion by its
    // password instead of a key. Neither password is saved.
    app.hosts_form.fields[0]
        .input
        .move_cursor(ratatui_textarea::CursorMove::Down);
    app.on_key(ctrl('e'));
    app.dialog.as_mut().unwrap().form.focus = 2;
    for _ in 0..3 {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "password\n\nh13-pw");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_none(), "{:?}", app.message);
    app.on_key(ctrl('l'));
    app.dialog.as_mut().unwrap().form.focus = 4;
    for _ in 0.."~/.ssh/bastion".len() {
        app.on_key(key(KeyCode::Backspace));
    }
    typed(&mut app, "\njump-pw");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_none(), "{:?}", app.message);
    assert_eq!(app.typed.jump_password.as_deref(), Some("jump-pw"));
    assert_eq!(
        app.typed.host_passwords,
        [("192.0.2.13".to_string(), "h13-pw".to_string())]
    );
    let saved = serde_yaml::to_string(&app.profile_answers()).unwrap();
    assert!(
        !saved.contains("h13-pw") && !saved.contains("jump-pw"),
        "{saved}"
    );
    let back: cdwiz::profile::Answers = serde_yaml::from_str(&saved).unwrap();
    assert_eq!(
        back.login(&back.hosts[2]).describe("192.0.2.13"),
        "root@192.0.2.13:22 (password from $CDWIZ_SSH_PASSWORD_192_0_2_13)"
    );
    assert_eq!(
        back.bastion().unwrap().describe(),
        "ops@198.51.100.10:2200 (password from $CDWIZ_JUMP_PASSWORD)"
    );
    assert!(cdwiz::profile::validate(&back).is_empty(), "{saved}");
    // A bad auth keeps the dialog open with the reason.
    app.on_key(ctrl('l'));
    app.dialog.as_mut().unwrap().form.focus = 0;
    typed(&mut app, "x");
    app.dialog.as_mut().unwrap().form.focus_next_button();
    app.on_key(key(KeyCode::Enter));
    assert!(app.dialog.is_some() && app.message.is_some());
    app.on_key(key(KeyCode::Esc));
    assert!(app.dialog.is_none() && app.screen == Screen::Hosts);
}

/// A password typed for the defaults reaches every host that takes its
/// password from the defaults, also one with a login of its own (another
/// port); a host with its own password source gets only its own.
#[test]
fn typed_passwords_reach_the_hosts_that_use_them() {
    let mut answers = ha_app("en").answers;
    answers.hosts[1].ssh = Some(cdwiz::profile::HostSsh {
        port: Some(2222),
        ..Default::default()
    });
    answers.hosts[2].ssh = Some(cdwiz::profile::HostSsh {
        password_env: Some("CDWIZ_TEST_NEVER_SET_H13".into()),
        ..Default::default()
    });
    let mut app = App::new(Some(answers), Some(PathBuf::from("ha.yaml")), "en");
    app.screen = Screen::Hosts;
    let pw = app
        .hosts_form
        .fields
        .iter()
        .position(|f| f.path == "ssh.password")
        .unwrap();
    app.hosts_form.focus = pw;
    typed(&mut app, "default-pw");
    let s = app.secrets();
    assert_eq!(s.ssh_password.as_deref(), Some("default-pw"));
    assert_eq!(
        s.hosts["192.0.2.12"].ssh_password.as_deref(),
        Some("default-pw")
    );
    assert_eq!(s.hosts["192.0.2.13"].ssh_password, None);
}

/// A loaded profile that takes what the operator has not consented to:
/// the wizard asks first, and nothing else happens until it is answered;
/// `n` leaves, `y` trusts each file and variable for this session.
#[test]
fn a_profile_from_someone_else_is_asked_about_before_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("from-someone");
    std::fs::create_dir(&folder).unwrap();
    let hook = tmp.path().join("outside.sh");
    std::fs::write(&hook, "true\n").unwrap();
    let profile = folder.join("p.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: b\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-env: OTHER_PROGRAMS_TOKEN_T2 }}\n\
             hosts:\n  - {{ address: 192.0.2.11, roles: [master, worker] }}\n\
             hooks: {{ pre-deploy: {} }}\n",
            hook.display()
        ),
    )
    .unwrap();
    let answers = cdwiz::profile::load_file_for_wizard(&profile).unwrap();
    let mut app = App::new(Some(answers.clone()), Some(profile.clone()), "en");
    let fields: Vec<&str> = app.consent.iter().map(|s| s.field.as_str()).collect();
    assert_eq!(fields, ["hooks.pre-deploy", "ssh.password-env"]);
    assert!(app.consent[0].sha256.is_some());
    assert_eq!(app.on_key(key(KeyCode::Enter)), None);
    assert_eq!(app.screen, Screen::Welcome, "a key went past the question");
    assert_eq!(app.on_key(key(KeyCode::Char('n'))), Some(Command::Quit));

    let mut app = App::new(Some(answers), Some(profile), "en");
    assert!(!app.consent.is_empty());
    assert_eq!(app.on_key(key(KeyCode::Char('y'))), None);
    assert!(app.consent.is_empty());
    assert!(cdwiz::consent::env_allowed("OTHER_PROGRAMS_TOKEN_T2"));
    assert!(cdwiz::consent::file_allowed(&hook, &folder));
}
