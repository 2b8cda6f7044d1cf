//! The daemon's one scheduler: every unit's polls and every account's
//! publishing, as deadlines in one timer queue.
//!
//! Why one task and not a task per unit: at 20,000 units the sleeping
//! tasks were the largest thing in the daemon's memory (two per unit,
//! ~5 KiB each even with their work boxed; BENCHMARKS.md, "The daemon at
//! 20,000 units"). Here a sleeping unit is an entry of a few hundred bytes,
//! and a task exists only while it works:
//! - **polls**: a unit's sources are grouped by their effective schedule;
//!   each group is a key due at its next firing plus the unit's stable
//!   offset (`Schedule::next_poll`). A due poll waits on the ready queue
//!   for one of `[daemon] concurrency` slots; polls of one unit never
//!   overlap (a group due while its unit polls waits for that poll), and
//!   the next firing is worked out when the poll ends, as before.
//! - **publishing**: each account is a key due when its outbox said to look
//!   again (spacing, the platform's wait, a pause, a minute when idle). A
//!   poll that ends and an editor's action ring the unit's accounts: due at
//!   once. A turn is at most [`work::STEPS_PER_TURN`] steps, in one of
//!   `concurrency` publishing slots, so a backlog drains fairly. **One turn
//!   of an account at a time**: an account's key is either sleeping in the
//!   queue, waiting on the ready queue, or running, never two of these.
//!
//! Starting and stopping units (a reload) are commands to this task; a
//! stop answers once the unit's work in flight has ended, so a changed unit
//! never polls or publishes twice at once.

use super::{IDLE_RECHECK, timers::Timers};
use crate::config::Unit;
use crate::schedule::Schedule;
use chrono::DateTime;
use chrono_tz::Tz;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

type UnitId = Arc<str>;

/// What the scheduler runs when a key comes due, and the time it reads.
/// The daemon's is its [`Shared`](super::Shared) (`work.rs`: real polls
/// and outbox turns); the tests' counts and sleeps.
pub trait Work: Clone + Send + Sync + 'static {
    /// One poll of `unit`'s sources numbered `sources` (and its due fetch
    /// retries when `retries_too`).
    fn poll(
        &self,
        unit: Arc<Unit>,
        sources: Box<[u16]>,
        retries_too: bool,
    ) -> impl Future<Output = ()> + Send;
    /// A turn of `unit`'s account `index` (`fresh`: its first since the
    /// unit started); how long the account may sleep after it.
    fn turn(
        &self,
        unit: Arc<Unit>,
        index: usize,
        fresh: bool,
        cancel: CancellationToken,
    ) -> impl Future<Output = Duration> + Send;
    /// Now, in the configured zone (the schedules' zone).
    fn now(&self) -> DateTime<Tz>;
    /// `[daemon] run_at_start`: a unit polls as soon as it starts.
    fn run_at_start(&self) -> bool;
}

/// What comes due: a unit's schedule group, or one of its accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Poll(UnitId, u16),
    Publish(UnitId, u16),
}

/// What the rest of the daemon asks of the scheduler.
enum Command {
    Start(Arc<Unit>),
    /// A reload's copy of a running unit whose configuration did not
    /// change (only its line moved): held from now on, so the old config's
    /// copy is freed and the line is the file's.
    Renew(Arc<Unit>),
    /// Stop the unit; answered once its work in flight has ended.
    Stop(String, oneshot::Sender<()>),
    /// The unit's accounts (every unit's: `None`) look at their queues now.
    Ring(Option<String>),
}

/// The scheduler's handle: cheap to clone, usable from any task.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Start(u) => write!(f, "Start({})", u.id),
            Command::Renew(u) => write!(f, "Renew({})", u.id),
            Command::Stop(id, _) => write!(f, "Stop({id})"),
            Command::Ring(id) => write!(f, "Ring({id:?})"),
        }
    }
}

impl Handle {
    /// Start polling and publishing for `unit`.
    pub fn start(&self, unit: Arc<Unit>) {
        let _ = self.tx.send(Command::Start(unit));
    }

    /// A reload kept `unit` as it was: hold the new config's copy (the
    /// running unit's timers and work in flight are left alone).
    pub fn renew(&self, unit: Arc<Unit>) {
        let _ = self.tx.send(Command::Renew(unit));
    }

    /// Stop these units; returns once their polls and publishing turns in
    /// flight have ended (all asked at once: one slow poll does not hold
    /// up the others' stops). At once when the scheduler has stopped.
    pub async fn stop<'a>(&self, units: impl IntoIterator<Item = &'a str>) {
        let mut answers = Vec::new();
        for unit in units {
            let (tx, rx) = oneshot::channel();
            if self.tx.send(Command::Stop(unit.to_string(), tx)).is_ok() {
                answers.push(rx);
            }
        }
        for rx in answers {
            let _ = rx.await;
        }
    }

    /// `unit`'s accounts look at their queues now (an editor's action).
    pub fn ring(&self, unit: &str) {
        let _ = self.tx.send(Command::Ring(Some(unit.to_string())));
    }

    /// Every account looks at its queue now (a reload).
    pub fn ring_all(&self) {
        let _ = self.tx.send(Command::Ring(None));
    }
}

/// The scheduler's handle, and what its task reads commands from.
pub fn channel() -> (Handle, Commands) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle { tx }, Commands(rx))
}

/// The receiving end of a [`Handle`]: handed to [`Scheduler::new`].
pub struct Commands(mpsc::UnboundedReceiver<Command>);

/// One schedule group of a unit: its sources (by number) and when it last
/// fired.
struct Group {
    schedule: Arc<Schedule>,
    sources: Box<[u16]>,
    /// The firing whose poll comes next (then: ran last).
    last_firing: Option<DateTime<Tz>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the timer queue.
    Sleeping,
    /// Due, waiting on the ready queue for a slot.
    Ready,
    Running,
}

struct Account {
    phase: Phase,
    /// Rung while running: take another turn as soon as this one ends.
    rung: bool,
    /// No turn yet since the unit started: its update clock is read first.
    fresh: bool,
}

struct Entry {
    unit: Arc<Unit>,
    groups: Vec<Group>,
    accounts: Vec<Account>,
    /// A poll of this unit is under way.
    polling: bool,
    /// Groups that came due while it was, polled next in this order.
    waiting: VecDeque<u16>,
    cancel: CancellationToken,
    /// Polls and turns of this unit under way.
    in_flight: u32,
    /// A stop was asked: these are answered once `in_flight` is 0.
    stopping: Option<Vec<oneshot::Sender<()>>>,
}

/// What a task reports when it ends.
enum Done {
    Polled,
    /// The turn ended; the account may sleep this long.
    Turned(Duration),
}

pub struct Scheduler<W> {
    work: W,
    shutdown: CancellationToken,
    rx: mpsc::UnboundedReceiver<Command>,
    /// `[daemon] concurrency` polls at once, and as many publishing turns.
    polls: Arc<Semaphore>,
    turns: Arc<Semaphore>,
    units: HashMap<UnitId, Entry>,
    /// Parsed schedules by expression: 20,000 units share a handful.
    schedules: HashMap<String, Arc<Schedule>>,
    timers: Timers<Key>,
    ready_polls: VecDeque<(UnitId, u16)>,
    ready_turns: VecDeque<(UnitId, u16)>,
    tasks: JoinSet<Done>,
    /// Which key each task in flight works for (a task that panics still
    /// names its key).
    running: HashMap<Id, Key>,
}

impl<W: Work> Scheduler<W> {
    /// A scheduler reading `commands`, with `concurrency` (`[daemon]
    /// concurrency`) polls and as many publishing turns at once, until
    /// `shutdown`.
    pub fn new(
        work: W,
        commands: Commands,
        concurrency: usize,
        shutdown: CancellationToken,
    ) -> Scheduler<W> {
        Scheduler {
            work,
            shutdown,
            rx: commands.0,
            polls: Arc::new(Semaphore::new(concurrency)),
            turns: Arc::new(Semaphore::new(concurrency)),
            units: HashMap::new(),
            schedules: HashMap::new(),
            timers: Timers::default(),
            ready_polls: VecDeque::new(),
            ready_turns: VecDeque::new(),
            tasks: JoinSet::new(),
            running: HashMap::new(),
        }
    }

    /// Run until `shutdown` is cancelled; then cancel every unit and wait
    /// for the work in flight (the caller bounds how long).
    pub async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        loop {
            let now = Instant::now();
            while let Some(key) = self.timers.pop_due(now) {
                self.due(key);
            }
            let next = self.timers.next_deadline();
            let (polls, turns) = (self.polls.clone(), self.turns.clone());
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(cmd) = self.rx.recv() => self.command(cmd),
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(done)
                }
                Ok(permit) = polls.acquire_owned(), if !self.ready_polls.is_empty() => {
                    self.spawn_poll(permit)
                }
                Ok(permit) = turns.acquire_owned(), if !self.ready_turns.is_empty() => {
                    self.spawn_turn(permit)
                }
                _ = sleep_until(next) => {}
            }
        }
        for e in self.units.values() {
            e.cancel.cancel();
        }
        while self.tasks.join_next().await.is_some() {}
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Start(unit) => self.start(unit),
            Command::Renew(unit) => {
                if let Some(e) = self.units.get_mut(unit.id.as_str())
                    && e.unit.same_config(&unit)
                {
                    e.unit = unit;
                }
            }
            Command::Stop(id, done) => self.stop(&id, done),
            Command::Ring(Some(id)) => self.ring(&id),
            Command::Ring(None) => {
                let ids: Vec<UnitId> = self.units.keys().cloned().collect();
                for id in ids {
                    self.ring(&id);
                }
            }
        }
    }

    fn start(&mut self, unit: Arc<Unit>) {
        let id: UnitId = Arc::from(unit.id.as_str());
        if self.units.contains_key(&id) {
            // The reload stops a unit before it starts it again; a second
            // start would poll and publish it twice over.
            tracing::error!(unit = %unit.id, "started twice; the running one stays");
            return;
        }
        // Sources grouped by their effective schedule: one key per group.
        // A unit bound by its site alone polls on its schedule what
        // discovery finds (a group without sources).
        let mut groups: Vec<(String, Vec<u16>)> = Vec::new();
        if unit.sources.is_empty() {
            groups.push((unit.schedule.clone(), Vec::new()));
        }
        for (i, s) in unit.sources.iter().enumerate() {
            let expr = s.schedule.as_ref().unwrap_or(&unit.schedule);
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            match groups.iter_mut().find(|(e, _)| e == expr) {
                Some((_, v)) => v.push(i),
                None => groups.push((expr.clone(), vec![i])),
            }
        }
        // Sized exactly: an entry lives as long as its unit, 20,000 times.
        let mut entry = Entry {
            groups: Vec::with_capacity(groups.len()),
            accounts: Vec::with_capacity(unit.accounts.len()),
            polling: false,
            waiting: VecDeque::new(),
            cancel: self.shutdown.child_token(),
            in_flight: 0,
            stopping: None,
            unit: unit.clone(),
        };
        for (expr, sources) in groups {
            let schedule = match self.schedules.get(&expr) {
                Some(s) => s.clone(),
                None => match Schedule::parse(&expr) {
                    Ok(s) => {
                        let s = Arc::new(s);
                        self.schedules.insert(expr, s.clone());
                        s
                    }
                    Err(e) => {
                        // Validated at load; this only guards against a bug.
                        tracing::error!(unit = %unit.id, "{e}");
                        continue;
                    }
                },
            };
            entry.groups.push(Group {
                schedule,
                sources: sources.into(),
                last_firing: None,
            });
        }
        let run_at_start = self.work.run_at_start();
        for g in 0..entry.groups.len() {
            let key = Key::Poll(id.clone(), g as u16);
            if run_at_start {
                self.timers.set(key, Instant::now());
            } else if let Some(at) = next_poll(self.work.now(), &unit, &mut entry.groups[g]) {
                self.timers.set(key, at);
            }
        }
        for a in 0..unit.accounts.len() {
            entry.accounts.push(Account {
                phase: Phase::Sleeping,
                rung: false,
                fresh: true,
            });
            self.timers
                .set(Key::Publish(id.clone(), a as u16), Instant::now());
        }
        self.units.insert(id, entry);
    }

    fn stop(&mut self, id: &str, done: oneshot::Sender<()>) {
        let Some(e) = self.units.get_mut(id) else {
            let _ = done.send(());
            return;
        };
        e.cancel.cancel();
        let key: UnitId = e.unit.id.as_str().into();
        for g in 0..e.groups.len() {
            self.timers.remove(&Key::Poll(key.clone(), g as u16));
        }
        for a in 0..e.accounts.len() {
            self.timers.remove(&Key::Publish(key.clone(), a as u16));
        }
        e.stopping.get_or_insert_with(Vec::new).push(done);
        self.settle(id);
    }

    /// A stopping unit with nothing in flight is gone: its stops answered.
    fn settle(&mut self, id: &str) {
        let drained = self
            .units
            .get(id)
            .is_some_and(|e| e.stopping.is_some() && e.in_flight == 0);
        if drained && let Some(e) = self.units.remove(id) {
            for done in e.stopping.into_iter().flatten() {
                let _ = done.send(());
            }
        }
    }

    /// Ring `id`'s accounts: a sleeping one is due now, a running one
    /// takes another turn when this one ends.
    fn ring(&mut self, id: &str) {
        let Some(e) = self.units.get_mut(id) else {
            return;
        };
        if e.stopping.is_some() {
            return;
        }
        let key: UnitId = e.unit.id.as_str().into();
        let now = Instant::now();
        for (a, acc) in e.accounts.iter_mut().enumerate() {
            match acc.phase {
                Phase::Sleeping => self.timers.set(Key::Publish(key.clone(), a as u16), now),
                Phase::Ready => {}
                Phase::Running => acc.rung = true,
            }
        }
    }

    /// `key`'s time has come: onto its ready queue.
    fn due(&mut self, key: Key) {
        match key {
            Key::Poll(id, g) => {
                let Some(e) = self.units.get_mut(&id) else {
                    return;
                };
                if e.polling {
                    e.waiting.push_back(g);
                } else {
                    self.ready_polls.push_back((id, g));
                }
            }
            Key::Publish(id, a) => {
                let Some(acc) = self
                    .units
                    .get_mut(&id)
                    .and_then(|e| e.accounts.get_mut(usize::from(a)))
                else {
                    return;
                };
                acc.phase = Phase::Ready;
                self.ready_turns.push_back((id, a));
            }
        }
    }

    fn spawn_poll(&mut self, permit: OwnedSemaphorePermit) {
        let Some((id, g)) = self.ready_polls.pop_front() else {
            return;
        };
        let Some(e) = self.units.get_mut(&id) else {
            return;
        };
        if e.stopping.is_some() {
            return;
        }
        if e.polling {
            // Another group of the unit got there first: after it.
            e.waiting.push_back(g);
            return;
        }
        let Some(group) = e.groups.get(usize::from(g)) else {
            return;
        };
        e.polling = true;
        e.in_flight += 1;
        let (work, unit, cancel) = (self.work.clone(), e.unit.clone(), e.cancel.clone());
        let sources = group.sources.clone();
        let task = self.tasks.spawn(async move {
            let _permit = permit;
            if !cancel.is_cancelled() {
                work.poll(unit, sources, g == 0).await;
            }
            Done::Polled
        });
        self.running.insert(task.id(), Key::Poll(id, g));
    }

    fn spawn_turn(&mut self, permit: OwnedSemaphorePermit) {
        let Some((id, a)) = self.ready_turns.pop_front() else {
            return;
        };
        let Some(e) = self.units.get_mut(&id) else {
            return;
        };
        if e.stopping.is_some() {
            return;
        }
        let Some(acc) = e.accounts.get_mut(usize::from(a)) else {
            return;
        };
        acc.phase = Phase::Running;
        let fresh = std::mem::replace(&mut acc.fresh, false);
        e.in_flight += 1;
        let (work, unit, cancel) = (self.work.clone(), e.unit.clone(), e.cancel.clone());
        let task = self.tasks.spawn(async move {
            let _permit = permit;
            Done::Turned(work.turn(unit, usize::from(a), fresh, cancel).await)
        });
        self.running.insert(task.id(), Key::Publish(id, a));
    }

    /// A task ended (or panicked: logged, and its key goes on as if it had
    /// ended with nothing done).
    fn finished(&mut self, done: Result<(Id, Done), tokio::task::JoinError>) {
        let (task, done) = match done {
            Ok((task, done)) => (task, Some(done)),
            Err(e) => (e.id(), None),
        };
        let Some(key) = self.running.remove(&task) else {
            return;
        };
        match key {
            Key::Poll(id, g) => {
                if done.is_none() {
                    tracing::error!(unit = %id, "a poll ended in a panic; the next firing polls again");
                }
                self.polled(&id, g);
            }
            Key::Publish(id, a) => {
                let wait = match done {
                    Some(Done::Turned(wait)) => wait,
                    _ => {
                        tracing::error!(unit = %id, account = a, "a publishing turn ended in a panic; trying again in {}s", IDLE_RECHECK.as_secs());
                        IDLE_RECHECK
                    }
                };
                self.turned(&id, a, wait);
            }
        }
    }

    fn polled(&mut self, id: &UnitId, g: u16) {
        let Some(e) = self.units.get_mut(id) else {
            return;
        };
        e.polling = false;
        e.in_flight -= 1;
        if e.stopping.is_some() {
            self.settle(id);
            return;
        }
        let unit = e.unit.clone();
        if let Some(at) = e
            .groups
            .get_mut(usize::from(g))
            .and_then(|group| next_poll(self.work.now(), &unit, group))
        {
            self.timers.set(Key::Poll(id.clone(), g), at);
        }
        if let Some(next) = e.waiting.pop_front() {
            self.ready_polls.push_front((id.clone(), next));
        }
        // What the poll found is queued: the accounts look now.
        self.ring(id);
    }

    fn turned(&mut self, id: &UnitId, a: u16, wait: Duration) {
        let Some(e) = self.units.get_mut(id) else {
            return;
        };
        e.in_flight -= 1;
        if e.stopping.is_some() {
            self.settle(id);
            return;
        }
        let Some(acc) = e.accounts.get_mut(usize::from(a)) else {
            return;
        };
        acc.phase = Phase::Sleeping;
        let wait = if std::mem::take(&mut acc.rung) {
            Duration::ZERO
        } else {
            wait
        };
        self.timers
            .set(Key::Publish(id.clone(), a), Instant::now() + wait);
    }
}

/// When `group` of `unit` polls next (its next firing plus the unit's
/// offset), remembering that firing; `None` when its schedule never fires
/// again.
fn next_poll(now: DateTime<Tz>, unit: &Unit, group: &mut Group) -> Option<Instant> {
    let Some((firing, at)) =
        group
            .schedule
            .next_poll(&unit.id, unit.jitter, group.last_firing, now)
    else {
        tracing::warn!(unit = %unit.id, schedule = %group.schedule, "schedule never fires again");
        return None;
    };
    group.last_firing = Some(firing);
    Some(Instant::now() + (at - now).to_std().unwrap_or_default())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
