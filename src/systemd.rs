//! The few lines of the systemd notify protocol a `Type=notify` service
//! needs: READY=1, STATUS=, STOPPING=1, RELOADING=1 and WATCHDOG=1 pings.
//! Written here rather than pulled in as a crate: it is one datagram.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends notifications to `$NOTIFY_SOCKET`; does nothing when it is unset
/// (not under systemd, or in tests).
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<String>,
}

impl Notifier {
    /// From the environment systemd sets.
    pub fn from_env() -> Notifier {
        Notifier {
            socket: std::env::var("NOTIFY_SOCKET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    /// Send one notification (`READY=1`, `STATUS=…`). Errors are logged, not
    /// returned: a missing supervisor must not stop the service.
    pub fn notify(&self, msg: &str) {
        let Some(path) = &self.socket else { return };
        let res = (|| -> std::io::Result<()> {
            let sock = UnixDatagram::unbound()?;
            if let Some(abstract_name) = path.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                let addr =
                    std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())?;
                sock.send_to_addr(msg.as_bytes(), &addr)?;
            } else {
                sock.send_to(msg.as_bytes(), path)?;
            }
            Ok(())
        })();
        if let Err(e) = res {
            tracing::warn!("sd_notify {msg:?}: {e}");
        }
    }

    /// How often to send WATCHDOG=1 (half of `WatchdogSec`), when systemd
    /// asks for it.
    pub fn watchdog_interval() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        Some(Duration::from_micros(usec / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_sends_one_datagram_to_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: Some(path.display().to_string()),
        };
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }

    #[test]
    fn notify_without_socket_is_a_no_op() {
        Notifier::default().notify("READY=1");
    }
}
