#!/usr/bin/env bash
# Install autosync as a systemd service on a Debian-like host.
#   sudo deploy/install.sh            # builds (cargo) and installs
#   sudo deploy/install.sh --no-build # installs an already built target/release/autosync
# Layout:
#   /usr/bin/autosync
#   /etc/autosync/autosync.toml       the config (from config/example.toml on first install)
#   /etc/autosync/secrets/NAME        one cookie file per account (mode 0600, root)
#   /etc/systemd/system/autosync.service
#   /var/lib/autosync                 the store (systemd StateDirectory)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-build" ]; then
  cargo build --release --locked
fi
install -D -m 0755 target/release/autosync /usr/bin/autosync
install -d -m 0755 /etc/autosync
install -d -m 0700 /etc/autosync/secrets
if [ ! -e /etc/autosync/autosync.toml ]; then
  sed 's#^state_dir = .*#state_dir = "/var/lib/autosync"#' config/example.toml > /etc/autosync/autosync.toml
  chmod 0644 /etc/autosync/autosync.toml
  install -d -m 0755 /etc/autosync/words
  install -m 0644 config/words/*.txt /etc/autosync/words/
  install -m 0600 config/editors.example.toml /etc/autosync/editors.example.toml
  echo "wrote /etc/autosync/autosync.toml: edit it, then: autosync check -c /etc/autosync/autosync.toml"
fi
install -D -m 0644 deploy/autosync.service /etc/systemd/system/autosync.service
install -D -m 0644 README.md /usr/share/doc/autosync/README.md
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "start with: systemctl enable --now autosync"
fi
