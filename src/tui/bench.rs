//! `cdwiz bench-ui` (hidden; `scripts/bench-wizard` runs it): the deploy
//! screen fed N hosts × R log lines per second for S simulated seconds,
//! drawn at 60 frames per second on an off-screen 160×48 terminal. Reports
//! the frame render time (median, p99, max) and the process's resident
//! memory along the way: bounded log buffers keep it flat.

use std::time::Instant;

use cdwiz::event::{Event, StepOutcome};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Screen};
use super::screens;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub fn run(secs: u64, rate: u64, hosts: usize) -> u8 {
    const FPS: u64 = 60;
    let mut app = App::new(None, None, "en");
    app.screen = Screen::Deploy;
    app.deploy.running = true;
    let names: Vec<String> = (0..hosts).map(|i| format!("10.77.0.{}", 11 + i)).collect();
    app.on_event(Event::DeployStarted {
        steps: names.iter().map(|h| (h.clone(), 9)).collect(),
    });
    let Ok(mut terminal) = Terminal::new(TestBackend::new(160, 48));
    let frames = secs * FPS;
    let per_frame = rate * hosts as u64 / FPS;
    let mut times = Vec::with_capacity(frames as usize);
    let mut rss = Vec::new();
    let mut n: u64 = 0;
    let started = Instant::now();
    for frame in 0..frames {
        for _ in 0..per_frame {
            let host = &names[(n % hosts as u64) as usize];
            app.on_event(Event::HostLog {
                host: host.clone(),
                line: format!(
                    "[backend] 2026-11-23T10:15:{:02}.{:03}Z INFO request {n} served in 3 ms",
                    (n / 1000) % 60,
                    n % 1000
                ),
            });
            n += 1;
        }
        if frame % FPS == 0 {
            let host = names[(frame / FPS) as usize % hosts].clone();
            app.on_event(Event::DeployStep {
                host,
                step: "configs".into(),
                outcome: StepOutcome::Changed,
                secs: 0.1,
            });
        }
        app.on_tick();
        let t0 = Instant::now();
        if terminal.draw(|f| screens::draw(f, &app)).is_err() {
            return 1;
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        if frame % (frames / 4).max(1) == 0 || frame + 1 == frames {
            rss.push((frame / FPS, status_kb("VmRSS:")));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "deploy screen, {hosts} hosts x {rate} lines/s for {secs} s simulated ({n} lines, {frames} frames at 160x48), {wall:.1} s wall"
    );
    println!(
        "frame render: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
    let samples: Vec<String> = rss
        .iter()
        .map(|(s, kb)| format!("{s} s: {:.1} MB", *kb as f64 / 1024.0))
        .collect();
    println!("resident memory: {}", samples.join(", "));
    println!(
        "peak resident memory: {:.1} MB",
        status_kb("VmHWM:") as f64 / 1024.0
    );
    0
}
