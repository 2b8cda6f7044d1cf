//! What keeping no idle connections costs (`src/fetch`): every request to a
//! site opens a new connection, so against HTTPS sites every request pays a
//! TLS handshake. This measures the client's CPU per request on a new
//! connection, plain HTTP against HTTPS (ECDSA P-256 and RSA-2048 leaf
//! certificates under a test CA; with and without session tickets, i.e.
//! resumed and full handshakes), through the same reqwest/rustls stack and
//! settings as the fetcher.
//!
//! ```text
//! cargo run --release --example bench_tls            # 400 requests each
//! cargo run --release --example bench_tls -- 2000
//! ```
//!
//! Needs the `openssl` and `python3` commands: `openssl s_server` and
//! `python3 -m http.server` are the servers, in child processes, so that
//! only the client's CPU is counted (getrusage of this process).

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let st = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if !st.success() {
        bail!("{cmd:?} failed: {st}");
    }
    Ok(())
}

/// A CA and a `localhost` leaf signed by it, of key type `kind`.
fn certs(dir: &Path, kind: &str) -> anyhow::Result<()> {
    let key: &[&str] = if kind == "ec" {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    } else {
        &["-newkey", "rsa:2048"]
    };
    let p = |n: &str| dir.join(format!("{n}-{kind}")).display().to_string();
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(key)
        .args(["-nodes", "-days", "2", "-subj", "/CN=autosync bench CA"])
        .args(["-keyout", &p("ca.key"), "-out", &p("ca.pem")]))?;
    run(Command::new("openssl")
        .args(["req"])
        .args(key)
        .args(["-nodes", "-subj", "/CN=localhost"])
        .args(["-keyout", &p("leaf.key"), "-out", &p("leaf.csr")]))?;
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .args([
            "-in",
            &p("leaf.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
        ])
        .args([
            "-out",
            &p("leaf.pem"),
            "-extfile",
            &ext.display().to_string(),
        ]))?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> anyhow::Result<Server> {
    Ok(Server(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("{cmd:?}"))?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(400);
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("index.html"), "hello\n")?;
    let mut servers = Vec::new();
    let mut cases: Vec<(String, String, Option<std::path::PathBuf>)> = Vec::new();
    let port = free_port()?;
    servers.push(spawn(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path()),
    )?);
    cases.push((
        "plain HTTP".into(),
        format!("http://127.0.0.1:{port}/index.html"),
        None,
    ));
    for kind in ["ec", "rsa"] {
        certs(dir.path(), kind)?;
        for tickets in [true, false] {
            let port = free_port()?;
            let mut cmd = Command::new("openssl");
            cmd.args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
                .arg("-cert")
                .arg(dir.path().join(format!("leaf.pem-{kind}")))
                .arg("-key")
                .arg(dir.path().join(format!("leaf.key-{kind}")));
            if !tickets {
                cmd.arg("-no_ticket");
            }
            servers.push(spawn(&mut cmd)?);
            cases.push((
                format!(
                    "HTTPS, {} leaf, {}",
                    if kind == "ec" {
                        "ECDSA P-256"
                    } else {
                        "RSA-2048"
                    },
                    if tickets {
                        "resumed handshakes (tickets)"
                    } else {
                        "full handshakes (no tickets)"
                    }
                ),
                format!("https://localhost:{port}/"),
                Some(dir.path().join(format!("ca.pem-{kind}"))),
            ));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "| {n} requests, each on a new connection | client CPU ms/request | wall ms/request |"
    );
    println!("|---|---:|---:|");
    for (name, url, ca) in cases {
        // As `src/fetch` builds its client: no idle connections kept.
        let mut b = reqwest::Client::builder().pool_max_idle_per_host(0);
        if let Some(ca) = ca {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca)?)?);
        }
        let client = b.build()?;
        for _ in 0..20 {
            client.get(&url).send().await?.bytes().await?;
        }
        let (c0, t0) = (cpu_secs(), Instant::now());
        for _ in 0..n {
            client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
        }
        println!(
            "| {name} | {:.3} | {:.3} |",
            (cpu_secs() - c0) * 1e3 / n as f64,
            t0.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    }
    drop(servers);
    Ok(())
}
