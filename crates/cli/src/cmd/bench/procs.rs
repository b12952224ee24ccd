//! The processes a bench run starts (mock, gateway, nginx), each a child process so its
//! RSS is its own: spawning, waiting until it accepts connections, reading VmRSS from
//! /proc, stopping; plus free ports, the mock's request counter, and finding/installing
//! the external tools (wrk, nginx).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A child process killed (SIGKILL) when dropped unless stopped before.
pub struct Proc {
    /// What it is, for messages.
    pub name: &'static str,
    child: Child,
}

impl Proc {
    /// Spawns `cmd` with stdout/stderr going to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> anyhow::Result<Proc> {
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        Ok(Proc { name, child })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `addr` accepts TCP connections (fails if the process exits first).
    pub fn wait_ready(&mut self, addr: SocketAddr, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait()? {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                anyhow::bail!(
                    "the {} exited ({st}) before listening on {addr}: {}",
                    self.name,
                    tail.trim()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!(
            "the {} did not listen on {addr} within 20 s (log: {})",
            self.name,
            log.display()
        )
    }

    /// Resident set size in bytes (VmRSS of /proc/PID/status).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_of(self.pid())
    }

    /// SIGINT (the gateway flushes its ledger on it), then waits up to 30 s, then SIGKILL.
    pub fn stop_gracefully(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!(
            "the {} did not stop within 30 s of SIGINT; killed",
            self.name
        )
    }
}

impl Drop for Proc {
    /// SIGTERM first (nginx's master then stops its workers; SIGKILL would orphan them),
    /// SIGKILL after 5 s.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// VmRSS of a process, bytes.
pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (Linux only)"))?;
    parse_vmrss(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time (user + system, seconds) of `pid` and its direct children (nginx's workers),
/// from /proc/PID/stat; clock ticks taken as 100 per second (Linux's USER_HZ).
pub fn cpu_seconds_tree(pid: u32) -> f64 {
    let mut pids = vec![pid];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            if parse_stat(&stat).is_some_and(|(ppid, _)| ppid == pid) {
                pids.push(child);
            }
        }
    }
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| parse_stat(&s))
        .map(|(_, ticks)| ticks as f64 / 100.0)
        .sum()
}

/// (ppid, utime + stime in ticks) from a /proc/PID/stat line (the name may hold spaces).
pub fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let ppid = f.get(1)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, ut + st))
}

/// `VmRSS:   12345 kB` → bytes.
pub fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The mock's request counter (`GET /_mock/stats`, field `requests`).
pub fn mock_requests(addr: SocketAddr) -> anyhow::Result<u64> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /_mock/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .context("mock stats: no HTTP body")?;
    let v: serde_json::Value = serde_json::from_str(body.trim()).context("mock stats: not JSON")?;
    v.get("requests")
        .and_then(serde_json::Value::as_u64)
        .context("mock stats: no 'requests' field")
}

/// Whether `prog` runs (`prog -v` or similar exits at all).
pub fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The nginx binary: on PATH, or the Debian location.
pub fn nginx_binary() -> Option<String> {
    if have("nginx") {
        return Some("nginx".into());
    }
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

/// Whether we run as root (Uid line of /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Makes sure `prog` is there: if missing, installs the Debian `package` when root (saying
/// so), otherwise fails with the command to run.
pub fn ensure_tool(prog: &str, package: &str, found: impl Fn() -> bool) -> anyhow::Result<()> {
    if found() {
        return Ok(());
    }
    if !is_root() {
        anyhow::bail!(
            "{prog} is not installed; install it with `sudo apt-get install -y {package}` and run again{}",
            if prog == "nginx" { " (or pass --skip-nginx)" } else { "" }
        );
    }
    eprintln!(
        "jevons bench: {prog} is missing; running `apt-get install -y {package}` (we are root)"
    );
    let st = Command::new("apt-get")
        .args(["install", "-y", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !st.success() || !found() {
        anyhow::bail!(
            "`apt-get install -y {package}` did not give us {prog} ({st}); install it by hand"
        );
    }
    Ok(())
}

/// A minimal reverse-proxy config: `worker_processes auto` (one per core), upstream
/// keepalive, no access log, HTTP/1.1 to the upstream.
pub fn nginx_conf(prefix: &Path, listen: u16, upstream: u16) -> String {
    let p = prefix.display();
    format!(
        r#"# written by `jevons bench`: nginx as a plain reverse proxy
worker_processes auto;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {p}/client_body;
  proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi;
  uwsgi_temp_path {p}/uwsgi;
  scgi_temp_path {p}/scgi;
  upstream mock {{
    server 127.0.0.1:{upstream};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{listen};
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmrss_parses_kb_to_bytes() {
        let s = "Name:\tjevons\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\nThreads: 3\n";
        assert_eq!(parse_vmrss(s), Some(20480 * 1024));
        assert_eq!(parse_vmrss("Name: x\n"), None);
        assert_eq!(parse_vmrss("VmRSS: lots kB\n"), None);
    }

    #[test]
    fn stat_line_gives_ppid_and_ticks() {
        let s = "123 (nginx: worker (x)) S 77 123 123 0 -1 4194624 10 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(parse_stat(s), Some((77, 281)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_cpu_time_is_readable() {
        // Burn at least 20 ms of CPU so at least one 10 ms tick is charged.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        assert!(cpu_seconds_tree(std::process::id()) > 0.0);
    }

    #[test]
    fn own_rss_is_readable_and_plausible() {
        let r = rss_of(std::process::id()).unwrap();
        assert!(r > 100 * 1024, "rss {r}");
    }

    #[test]
    fn nginx_conf_has_keepalive_and_ports() {
        let c = nginx_conf(Path::new("/tmp/x"), 18000, 18001);
        assert!(c.contains("listen 127.0.0.1:18000;"));
        assert!(c.contains("server 127.0.0.1:18001;"));
        assert!(c.contains("keepalive 64;"));
        assert!(c.contains("proxy_set_header Connection \"\";"));
    }
}
