//! `jevons bench`: in one run, wrk against the mock directly, through nginx as a plain
//! reverse proxy, and through jevons (metering, attribution headers, durable ledger), each
//! server a child process; then a long run through jevons sampling its RSS, and the
//! ledger's bytes per event. Reports medians against the targets of issues 4 and 5.

mod procs;
mod report;
mod wrk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use jevons_gateway::config::ProviderKind;
use jevons_gateway::democonfig::{config_text, ProviderSpec, MOCK_KEY_ENV, MOCK_KEY_VALUE};
use jevons_ledger::{AdminStore, CreateKey, Reader};

use crate::output::Format;
use procs::{ensure_tool, free_port, have, mock_requests, nginx_binary, Proc};
use report::{Findings, RssSample, TargetRuns};
use wrk::WrkRun;

/// The mock the bench runs: one OpenAI-format provider, no latency, 16 output tokens.
const MOCK_PROFILE: &str = r#"# written by `jevons bench`: no latency, small fixed outputs
[[providers]]
name = "openai"
format = "openai"
tokenizer = "o200k_base"
models = [ { id = "gpt-4o-mini", output_tokens = { mean = 16, min = 16, max = 16 } } ]
"#;

/// Arguments of `jevons bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Length of each wrk run (c=1 and c=32, per target, per round).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    duration: Duration,
    /// Rounds (targets alternate within a round); medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Requests through jevons in the RSS run (RSS sampled every tenth); 0 skips it.
    #[arg(long, default_value_t = 1_000_000)]
    requests_for_rss: u64,
    /// Leave nginx out (no install attempt).
    #[arg(long)]
    skip_nginx: bool,
    /// wrk threads at c=32 (wrk shares the cores with the servers; 1 leaves them more).
    #[arg(long, default_value_t = 1)]
    wrk_threads: usize,
    /// Also fsync every ledger group commit (`[ledger] fsync = true`).
    #[arg(long)]
    fsync: bool,
    /// Working folder (configs, ledger, logs); default a fresh one under the temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// `table` (default) or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// One thing wrk hits.
struct Target {
    name: &'static str,
    /// The server whose CPU time is charged to this target (the mock for `direct`).
    pid: u32,
    url: String,
    script: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    if args.duration < Duration::from_secs(1) {
        anyhow::bail!("--duration must be at least 1s (wrk counts whole seconds)");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "jevons bench: WARNING this is a debug build; build with --release for real figures"
        );
    }
    ensure_tool("wrk", "wrk", || have("wrk"))?;
    if !args.skip_nginx {
        ensure_tool("nginx", "nginx-light", || nginx_binary().is_some())?;
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("jevons-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe().context("finding the jevons binary")?;
    let say = |s: &str| eprintln!("jevons bench: {s}");

    // The mock, alone in its process.
    let profile = dir.join("mock.toml");
    std::fs::write(&profile, MOCK_PROFILE)?;
    let mock_port = free_port()?;
    let mock_addr = SocketAddr::from(([127, 0, 0, 1], mock_port));
    let mut cmd = Command::new(&exe);
    cmd.args(["mock", "--profile"])
        .arg(&profile)
        .args(["--port-base", &mock_port.to_string()]);
    let mock_log = dir.join("mock.log");
    let mut mock = Proc::spawn("mock", cmd, &mock_log)?;
    mock.wait_ready(mock_addr, &mock_log)?;

    // The gateway, alone in its process, durable ledger, one key.
    let gw = start_gateway(&exe, &dir, mock_port, args.fsync)?;

    // nginx.
    let mut _nginx = None;
    let mut targets = vec![Target {
        name: "direct",
        pid: mock.pid(),
        url: format!("http://127.0.0.1:{mock_port}/v1/chat/completions"),
        script: wrk::write_script(&dir, "direct", None)?,
    }];
    if !args.skip_nginx {
        let port = free_port()?;
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(&prefix)?;
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, procs::nginx_conf(&prefix, port, mock_port))?;
        let bin = nginx_binary().context("nginx vanished")?;
        let mut cmd = Command::new(bin);
        cmd.arg("-p").arg(&prefix).arg("-c").arg(&conf);
        let log = prefix.join("stderr.log");
        let mut p = Proc::spawn("nginx", cmd, &log)?;
        p.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), &log)?;
        targets.push(Target {
            name: "nginx",
            pid: p.pid(),
            url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
            script: wrk::write_script(&dir, "nginx", None)?,
        });
        _nginx = Some(p);
    }
    targets.push(Target {
        name: "jevons",
        pid: gw.proc.pid(),
        url: format!("http://127.0.0.1:{}/v1/chat/completions", gw.port),
        script: wrk::write_script(&dir, "jevons", Some(&gw.key))?,
    });

    let load_before = loadavg();
    let secs = args.duration.as_secs();
    say(&format!(
        "{} targets x {} round(s) x 2 runs x {secs} s, then {} requests through jevons for RSS; load {load_before}",
        targets.len(),
        args.rounds,
        args.requests_for_rss
    ));
    let mut runs: Vec<TargetRuns> = targets
        .iter()
        .map(|t| TargetRuns {
            name: t.name.into(),
            ..TargetRuns::default()
        })
        .collect();
    for t in &targets {
        measure(t, 32, args.wrk_threads, Duration::from_secs(2))?; // warm-up
    }
    for round in 0..args.rounds {
        for (t, r) in targets.iter().zip(runs.iter_mut()) {
            let c1 = measure(t, 1, 1, args.duration)?;
            let c32 = measure(t, 32, args.wrk_threads, args.duration)?;
            say(&format!(
                "round {} {:<6} c=1 p50 {:.0} us | c=32 {:.0} req/s p99 {:.0} us | load {}",
                round + 1,
                t.name,
                c1.p50_us,
                c32.rps(),
                c32.p99_us,
                loadavg()
            ));
            r.c1.push(c1);
            r.c32.push(c32);
        }
    }
    let mock_command = WrkRun {
        script: &targets[0].script,
        url: &targets[0].url,
        connections: 32,
        threads: args.wrk_threads,
        duration: args.duration,
    }
    .command_line();

    let rss = if args.requests_for_rss > 0 {
        let j = targets.last().context("no jevons target")?;
        rss_run(
            j,
            &gw.proc,
            mock_addr,
            args.requests_for_rss,
            args.wrk_threads,
            &say,
        )?
    } else {
        Vec::new()
    };
    let load_after = loadavg();
    gw.proc.stop_gracefully()?;
    let stats = Reader::open(&gw.db)?.stats()?;
    drop(mock);

    let findings = Findings {
        targets: runs,
        rss,
        ledger: Some((stats.events, stats.bytes_per_event)),
        ledger_mode: gw.mode,
        load: (load_before, load_after),
        date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        mock_command,
        setup: (args.rounds, secs, args.wrk_threads),
    };
    findings.print(args.format)?;
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// The running gateway child.
struct Gw {
    proc: Proc,
    port: u16,
    key: String,
    db: PathBuf,
    mode: String,
}

/// Writes the gateway config and a key into a fresh ledger, starts `jevons serve`.
fn start_gateway(exe: &Path, dir: &Path, mock_port: u16, fsync: bool) -> anyhow::Result<Gw> {
    let db = dir.join("ledger.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let port = free_port()?;
    let spec = ProviderSpec {
        name: "openai".into(),
        root_url: format!("http://127.0.0.1:{mock_port}"),
        kind: ProviderKind::Openai,
        models: vec!["gpt-4o-mini".into()],
    };
    let mut text = config_text(&[spec], &db, &format!("127.0.0.1:{port}"), true, "");
    if fsync {
        text = text.replacen("durable = true\n", "durable = true\nfsync = true\n", 1);
    }
    let cfg = dir.join("jevons.toml");
    std::fs::write(&cfg, &text)?;
    let store = AdminStore::open(&db)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (_, key) = store.create_key(
        &CreateKey {
            team: "bench".into(),
            name: Some("bench".into()),
            ..Default::default()
        },
        now,
    )?;
    drop(store);
    let mut cmd = Command::new(exe);
    cmd.args(["--log", "warn", "serve", "--config"])
        .arg(&cfg)
        .env(MOCK_KEY_ENV, MOCK_KEY_VALUE);
    let log = dir.join("gateway.log");
    let mut p = Proc::spawn("gateway", cmd, &log)?;
    p.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), &log)?;
    let mode = format!(
        "{} (durable: committed before the response ends; fsync {})",
        db.display(),
        if fsync {
            "on"
        } else {
            "off, WAL synchronous=NORMAL"
        }
    );
    Ok(Gw {
        proc: p,
        port,
        key,
        db,
        mode,
    })
}

/// One wrk run; fails if more than 1% of the requests failed.
fn measure(t: &Target, c: usize, threads: usize, d: Duration) -> anyhow::Result<wrk::WrkResult> {
    let w = WrkRun {
        script: &t.script,
        url: &t.url,
        connections: c,
        threads,
        duration: d,
    };
    let cpu0 = procs::cpu_seconds_tree(t.pid);
    let mut r = w.run()?;
    r.server_cpu_s = Some(procs::cpu_seconds_tree(t.pid) - cpu0);
    let bad = r.socket_errors + r.status_errors;
    if r.requests == 0 || bad * 100 > r.requests {
        anyhow::bail!(
            "{}: {bad} of {} requests failed (`{}`); see the logs in the bench folder",
            t.name,
            r.requests,
            w.command_line()
        );
    }
    Ok(r)
}

/// wrk at c=32 through jevons until `total` requests reached the mock; RSS every tenth.
fn rss_run(
    t: &Target,
    gw: &Proc,
    mock: SocketAddr,
    total: u64,
    threads: usize,
    say: &dyn Fn(&str),
) -> anyhow::Result<Vec<RssSample>> {
    let step = (total / 10).max(1);
    let base = mock_requests(mock)?;
    let mut series = vec![RssSample {
        requests: 0,
        rss: gw.rss_bytes()?,
    }];
    let w = WrkRun {
        script: &t.script,
        url: &t.url,
        connections: 32,
        threads,
        duration: Duration::from_secs(24 * 3600),
    };
    let mut child = ChildGuard(w.spawn()?);
    let started = Instant::now();
    let (mut last_n, mut last_progress) = (0, Instant::now());
    let mut next = step;
    while next <= total {
        std::thread::sleep(Duration::from_millis(50));
        let n = mock_requests(mock)?.saturating_sub(base);
        if n > last_n {
            (last_n, last_progress) = (n, Instant::now());
        } else if last_progress.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("no progress through jevons for 30 s at {n} requests");
        }
        if let Some(st) = child.0.try_wait()? {
            anyhow::bail!("wrk stopped ({st}) after {n} requests of the RSS run");
        }
        if n >= next {
            let rss = gw.rss_bytes()?;
            series.push(RssSample { requests: n, rss });
            say(&format!(
                "RSS run: {n} requests, gateway RSS {:.1} MB, {:.0} req/s, load {}",
                rss as f64 / 1048576.0,
                n as f64 / started.elapsed().as_secs_f64(),
                loadavg()
            ));
            while next <= n {
                next += step;
            }
        }
    }
    Ok(series)
}

/// Kills the background wrk when dropped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The three load averages of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
