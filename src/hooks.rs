//! Pause points for deterministic race tests.
//!
//! Why: the races that matter (an editor's reject landing while a fetch
//! retry is on the network, an approve while the worker sends) happen in a
//! window of milliseconds; a test that sleeps to hit it proves nothing when
//! it passes. Instead the code under test calls [`Hooks::at`] at the edge of
//! each window; in production that is a no-op (no gates), and a test arms a
//! [`Gate`] at a point, waits until a task has reached it, does the other
//! side of the race, and lets the task go on. Passed in through the
//! pipeline's context like the clock (no globals).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The windows a test can hold a task in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// A fetch retry has the article and is about to write it back.
    FetchRetryBeforeWrite,
    /// The outbox picked an item and is about to take it (`publishing`).
    OutboxBeforeTake,
    /// The outbox took an item (`publishing`, flushed) and is about to send.
    OutboxBeforeSend,
}

/// One armed point: the task says it arrived, then waits to be let go.
#[derive(Default)]
pub struct Gate {
    arrived: Notify,
    go: Notify,
}

impl Gate {
    /// Wait until a task has reached the point.
    pub async fn reached(&self) {
        self.arrived.notified().await;
    }

    /// Let the task (that reached or will reach the point) go on.
    pub fn release(&self) {
        self.go.notify_one();
    }
}

type Armed = Arc<Mutex<HashMap<Point, Arc<Gate>>>>;

/// The armed points of one context; empty (a no-op) unless a test arms one.
#[derive(Clone, Default)]
pub struct Hooks(Option<Armed>);

impl Hooks {
    /// Hooks a test can arm.
    pub fn armable() -> Hooks {
        Hooks(Some(Default::default()))
    }

    /// Arm `p`: the next task to reach it stops there until released. Only
    /// the first arrival stops; the gate is disarmed when it is reached.
    pub fn arm(&self, p: Point) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        if let Some(m) = &self.0 {
            m.lock().expect("hooks lock").insert(p, gate.clone());
        }
        gate
    }

    /// Called by the code under test at `p`.
    pub async fn at(&self, p: Point) {
        let Some(m) = &self.0 else { return };
        let gate = m.lock().expect("hooks lock").remove(&p);
        if let Some(g) = gate {
            g.arrived.notify_one();
            g.go.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_stops_at_an_armed_point_until_released() {
        let hooks = Hooks::armable();
        let gate = hooks.arm(Point::OutboxBeforeSend);
        let passed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, p) = (hooks.clone(), passed.clone());
        let task = tokio::spawn(async move {
            h.at(Point::OutboxBeforeSend).await;
            p.store(true, std::sync::atomic::Ordering::SeqCst);
            // Disarmed: a second arrival does not stop.
            h.at(Point::OutboxBeforeSend).await;
        });
        gate.reached().await;
        assert!(!passed.load(std::sync::atomic::Ordering::SeqCst));
        gate.release();
        task.await.unwrap();
        assert!(passed.load(std::sync::atomic::Ordering::SeqCst));
        // Unarmed hooks never stop anyone.
        Hooks::default().at(Point::OutboxBeforeSend).await;
    }
}
