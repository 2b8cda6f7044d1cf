//! How many failed desk logins an address may make: [`MAX_FAILURES`]
//! within [`WINDOW`], then it waits until the oldest of them leaves the
//! window. Tokens are long enough that guessing one is hopeless anyway;
//! the limit keeps a script from trying at line speed, and keeps the log
//! readable when one does.
//!
//! In memory: a restart forgets the counts, which costs a guesser at most
//! one more window's worth of tries. Bounded: an address keeps its last
//! [`MAX_FAILURES`] failures only, and at most [`MAX_TRACKED`] addresses
//! are tracked (expired ones are pruned first, then the one that failed
//! longest ago is forgotten), so a flood from many addresses cannot grow
//! the daemon.
//!
//! Behind a reverse proxy every client has the proxy's address and they
//! share one limit, unless the proxy is listed in `[daemon]
//! desk_trusted_proxies` (see `session::client_addr`).

use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed logins an address may make within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failed login counts.
pub const WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// At most this many addresses are tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// Failed logins by client address.
#[derive(Default)]
pub struct LoginLimit {
    failures: Mutex<HashMap<IpAddr, VecDeque<DateTime<Utc>>>>,
}

/// Drop the failures of `q` that no longer count at `now`.
fn prune(q: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    while q.front().is_some_and(|t| now - *t >= WINDOW) {
        q.pop_front();
    }
}

fn until(q: &VecDeque<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    (q.len() >= MAX_FAILURES)
        .then(|| q.front().map(|t| *t + WINDOW))
        .flatten()
}

impl LoginLimit {
    /// When `addr` may try again, if it must wait now.
    pub fn blocked_until(&self, addr: IpAddr, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut map = self.failures.lock().expect("login limit lock");
        let q = map.get_mut(&addr)?;
        prune(q, now);
        if q.is_empty() {
            map.remove(&addr);
            return None;
        }
        until(q)
    }

    /// Count a failed login of `addr`; when it must now wait, until when.
    pub fn failed(&self, addr: IpAddr, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut map = self.failures.lock().expect("login limit lock");
        if !map.contains_key(&addr) && map.len() >= MAX_TRACKED {
            map.retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
            if map.len() >= MAX_TRACKED {
                let stalest = map
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied())
                    .map(|(a, _)| *a);
                if let Some(a) = stalest {
                    map.remove(&a);
                }
            }
        }
        let q = map.entry(addr).or_default();
        prune(q, now);
        q.push_back(now);
        while q.len() > MAX_FAILURES {
            q.pop_front();
        }
        until(q)
    }

    /// A successful login clears the address's count.
    pub fn succeeded(&self, addr: IpAddr) {
        self.failures
            .lock()
            .expect("login limit lock")
            .remove(&addr);
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.failures.lock().expect("login limit lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(n))
    }

    /// Five failures block until the first leaves the window; another
    /// address is not affected; a success clears the count.
    #[test]
    fn an_address_waits_after_five_failures_until_the_oldest_expires() {
        let l = LoginLimit::default();
        let t0 = Utc::now();
        for i in 0..4 {
            assert_eq!(l.failed(ip(1), t0 + chrono::Duration::minutes(i)), None);
        }
        assert_eq!(
            l.failed(ip(1), t0 + chrono::Duration::minutes(4)),
            Some(t0 + WINDOW)
        );
        assert_eq!(
            l.blocked_until(ip(1), t0 + chrono::Duration::minutes(5)),
            Some(t0 + WINDOW)
        );
        assert_eq!(l.blocked_until(ip(2), t0), None);
        // The oldest failure leaves the window: one more try.
        assert_eq!(l.blocked_until(ip(1), t0 + WINDOW), None);
        l.succeeded(ip(1));
        assert_eq!(l.tracked(), 0);
    }

    /// A flood from many addresses keeps at most `MAX_TRACKED` of them,
    /// expired ones first.
    #[test]
    fn the_limiter_tracks_a_bounded_number_of_addresses() {
        let l = LoginLimit::default();
        let t0 = Utc::now();
        for n in 0..MAX_TRACKED as u32 {
            l.failed(ip(n), t0);
        }
        assert_eq!(l.tracked(), MAX_TRACKED);
        // Still within the window: the stalest goes, the new one is kept.
        l.failed(ip(u32::MAX), t0 + chrono::Duration::minutes(1));
        assert_eq!(l.tracked(), MAX_TRACKED);
        // Past the window: every expired address is pruned at once.
        l.failed(
            ip(u32::MAX - 1),
            t0 + WINDOW + chrono::Duration::seconds(30),
        );
        assert_eq!(l.tracked(), 2);
    }
}
