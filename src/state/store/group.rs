//! Group commit for whole-file rewrites: the rewrites of one file queued in
//! one process are written with one lock, one backup and one atomic
//! replace, in the order they arrived.
//!
//! Each call queues a ticket. The oldest ticket leads: it takes the file's
//! lock and reads the file, then takes up to [`MAX_BATCH`] queued tickets
//! (itself first) into a batch. The file is parsed once; each member then
//! applies its own change on its own thread, in turn, to the parsed value
//! the member before it left; the leader serializes and writes the result
//! once and hands everyone the outcome. A call
//! still queued when its time is up leaves the queue with a timeout and
//! changes nothing; a call taken into a batch is no longer waiting for the
//! lock and always gets its outcome.
//!
//! Without this, every rewrite took the lock on its own: under pipelined
//! load most of the lock's time went to hand-offs, and callers in other
//! processes timed out.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::error::{Error, Result};

/// The most rewrites written together: bounds how long one batch holds
/// the lock while callers in other processes wait.
pub const MAX_BATCH: usize = 64;

/// A file's bytes as read (`None`: it does not exist).
pub type Bytes = Option<Arc<[u8]>>;

/// What the leader's `begin` hands the batch: the lock, kept until the
/// batch is written, the bytes read and their parsed value.
pub struct Begun<G, W> {
    pub lock: G,
    pub bytes: Bytes,
    pub work: W,
}

/// What the leader's write produced: the backup id of the old bytes and
/// the version of the new.
pub struct Commit {
    pub backup_id: Option<String>,
    pub version: Option<String>,
}

/// The outcome of a batch, shared by its members.
struct Outcome {
    /// The write's backup id, or the error that failed it.
    write: Result<Option<String>>,
    /// The version on disk after the batch.
    version: Option<String>,
    /// The index of the first member that changed the bytes.
    first_change: Option<usize>,
    /// The file was written (the changes did not cancel out).
    rewritten: bool,
}

struct Batch<W> {
    order: Vec<u64>,
    /// Whose turn it is (an index into `order`).
    pos: usize,
    /// The parsed file as the members so far left it; `None` while a
    /// member has it, and after a member panicked with it.
    work: Option<W>,
    /// The bytes read.
    bytes: Bytes,
    first_change: Option<usize>,
    /// A member panicked with the value: the batch writes nothing.
    lost: bool,
    outcome: Arc<OnceLock<Outcome>>,
}

struct Inner<W> {
    next: u64,
    /// Tickets not yet in a batch, oldest first.
    queue: VecDeque<u64>,
    /// A leader is taking the lock or running a batch.
    leading: bool,
    batch: Option<Batch<W>>,
    /// The thread of each ticket, woken one by one (never all at once: a
    /// queue of hundreds would wake hundreds of times per turn).
    threads: HashMap<u64, Thread>,
}

impl<W> Inner<W> {
    fn wake(&self, ticket: u64) {
        if let Some(t) = self.threads.get(&ticket) {
            t.unpark();
        }
    }

    fn wake_front(&self) {
        if let Some(&t) = self.queue.front() {
            self.wake(t);
        }
    }
}

/// The queue of one file's rewrites in this process; `W` is the parsed
/// file the members change.
pub struct Group<W> {
    inner: Mutex<Inner<W>>,
}

impl<W> Default for Group<W> {
    fn default() -> Self {
        Group {
            inner: Mutex::new(Inner {
                next: 0,
                queue: VecDeque::new(),
                leading: false,
                batch: None,
                threads: HashMap::new(),
            }),
        }
    }
}

/// The file operations a leader runs for its batch.
pub trait Leader<W> {
    /// Keeps the file's lock while it lives.
    type Lock;
    /// Takes the lock, waiting until `deadline`, reads the file and
    /// parses it.
    fn begin(&self, deadline: Instant) -> Result<Begun<Self::Lock, W>>;
    /// Serializes the changed value.
    fn save(&self, work: &W) -> Vec<u8>;
    /// Writes `new` over `old`.
    fn commit(&self, old: Option<&[u8]>, new: &[u8]) -> Result<Commit>;
    /// The version of bytes the batch left as they were.
    fn version(&self, bytes: &[u8]) -> String;
    /// The error of a call whose deadline passed before it joined a batch.
    fn timed_out(&self) -> Error;
}

/// What a member's change sees besides the parsed value.
pub enum Seen<'a> {
    /// The file as read (`None`: it does not exist): no earlier member of
    /// the batch changed it.
    AsRead(Option<&'a [u8]>),
    /// The file as earlier members of the batch changed it.
    Changed,
}

/// A member's change: it gets the parsed file and what it is, and returns
/// whether it changed the value and its answer. It must leave the value as
/// it found it when it returns an error.
pub trait Apply<W, R>: FnOnce(&mut W, Seen<'_>) -> Result<(bool, R)> {}
impl<W, R, F: FnOnce(&mut W, Seen<'_>) -> Result<(bool, R)>> Apply<W, R> for F {}

/// What one member's turn produced.
#[derive(Debug)]
pub struct Turn<R> {
    pub value: R,
    pub changed: bool,
    /// The version on disk after the batch.
    pub version: Option<String>,
    /// The backup of the content the batch replaced, when this member
    /// changed it.
    pub backup_id: Option<String>,
}

/// What a member's turn produced, before the batch's outcome is known.
struct Mine<R> {
    value: R,
    changed: bool,
    /// The member's place in the batch.
    index: usize,
}

type Applied<R> = Result<Mine<R>>;

impl<W> Group<W> {
    fn inner(&self) -> MutexGuard<'_, Inner<W>> {
        // The state is kept consistent by drop guards, so a panic that
        // poisoned the mutex left nothing half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps until this thread is woken (or `until`); the caller checks
    /// again what it waits for. A wake between the unlock and the sleep is
    /// not lost (the thread's park token keeps it).
    fn wait<'a>(
        &'a self,
        inner: MutexGuard<'a, Inner<W>>,
        until: Option<Instant>,
    ) -> MutexGuard<'a, Inner<W>> {
        drop(inner);
        match until {
            Some(t) => thread::park_timeout(t.saturating_duration_since(Instant::now())),
            None => thread::park(),
        }
        self.inner()
    }

    /// Applies `apply` to the file in turn with the other queued rewrites
    /// of this process, waiting until `deadline` to join a batch; `file`
    /// does the leader's work if this call leads.
    pub fn run<R>(
        &self,
        deadline: Instant,
        file: &impl Leader<W>,
        apply: impl Apply<W, R>,
    ) -> Result<Turn<R>> {
        let mut inner = self.inner();
        let me = inner.next;
        inner.next = inner.next.wrapping_add(1);
        inner.queue.push_back(me);
        inner.threads.insert(me, thread::current());
        let _registered = Registered { group: self, me };
        loop {
            if let Some(b) = &inner.batch
                && b.order.contains(&me)
            {
                let outcome = Arc::clone(&b.outcome);
                return self.member(inner, me, outcome, deadline, file, apply);
            }
            if !inner.queue.contains(&me) {
                // Taken into a batch that its leader abandoned before this
                // thread woke.
                return Err(Error::Internal(
                    "the batch this rewrite was part of was abandoned".into(),
                ));
            }
            if !inner.leading && inner.queue.front() == Some(&me) {
                inner.leading = true;
                drop(inner);
                let lead = Leading {
                    group: self,
                    me,
                    outcome: None,
                };
                return lead.run(deadline, file, apply);
            }
            let now = Instant::now();
            if now >= deadline {
                inner.queue.retain(|t| *t != me);
                // The next ticket may have to lead now.
                inner.wake_front();
                drop(inner);
                return Err(file.timed_out());
            }
            inner = self.wait(inner, Some(deadline));
        }
    }

    fn member<'a, R>(
        &'a self,
        mut inner: MutexGuard<'a, Inner<W>>,
        me: u64,
        outcome: Arc<OnceLock<Outcome>>,
        deadline: Instant,
        file: &impl Leader<W>,
        apply: impl Apply<W, R>,
    ) -> Result<Turn<R>> {
        // Wait for my turn (or for a leader that gave up on the batch).
        loop {
            if outcome.get().is_some() {
                return Err(Error::Internal(
                    "the batch this rewrite was part of was abandoned".into(),
                ));
            }
            if let Some(b) = &inner.batch
                && b.order.get(b.pos) == Some(&me)
            {
                break;
            }
            inner = self.wait(inner, None);
        }
        if Instant::now() >= deadline {
            // Its time ran out while earlier changes had their turns: it
            // passes its turn without changing anything.
            let _pass = PassTurn::skip(self, &mut inner, &outcome);
            drop(inner);
            drop(_pass);
            return Err(file.timed_out());
        }
        // A refused change has changed nothing: its caller need not wait
        // for the others.
        let mine = self.apply(inner, &outcome, apply)?;
        let mut inner = self.inner();
        while outcome.get().is_none() {
            inner = self.wait(inner, None);
        }
        drop(inner);
        Self::result(Ok(mine), &outcome)
    }

    /// A member's answer from its turn and the batch's outcome: a member
    /// that changed the file, or saw a change of the batch, gets the
    /// write's error.
    fn result<R>(mine: Applied<R>, outcome: &OnceLock<Outcome>) -> Result<Turn<R>> {
        let Mine {
            value,
            changed,
            index,
        } = mine?;
        let Some(o) = outcome.get() else {
            return Err(Error::Internal("a batch ended without an outcome".into()));
        };
        match &o.write {
            Ok(backup_id) => Ok(Turn {
                value,
                changed: changed && o.rewritten,
                version: o.version.clone(),
                backup_id: if changed { backup_id.clone() } else { None },
            }),
            Err(e) if o.first_change.is_some_and(|f| index >= f) => Err(e.clone()),
            // Before the first change: what this member saw is on disk.
            Err(_) => Ok(Turn {
                value,
                changed: false,
                version: o.version.clone(),
                backup_id: None,
            }),
        }
    }

    /// Runs `apply` in my turn (`inner` is locked and it is my turn) on
    /// the value the member before me left. The turn passes on even if
    /// `apply` fails or panics.
    fn apply<R>(
        &self,
        mut inner: MutexGuard<'_, Inner<W>>,
        outcome: &Arc<OnceLock<Outcome>>,
        apply: impl Apply<W, R>,
    ) -> Applied<R> {
        let taken = inner.batch.as_mut().map(|b| {
            (
                b.work.take(),
                b.pos,
                b.first_change.is_none().then(|| b.bytes.clone()),
            )
        });
        drop(inner);
        let mut pass = PassTurn {
            group: self,
            batch: Arc::clone(outcome),
            work: None,
            changed: false,
        };
        let Some((Some(mut work), index, as_read)) = taken else {
            return Err(Error::Internal(
                "an earlier change of this batch failed unexpectedly".into(),
            ));
        };
        let seen = match &as_read {
            Some(bytes) => Seen::AsRead(bytes.as_deref()),
            None => Seen::Changed,
        };
        let out = apply(&mut work, seen);
        pass.work = Some(work);
        let (changed, value) = out?;
        pass.changed = changed;
        drop(pass);
        Ok(Mine {
            value,
            changed,
            index,
        })
    }
}

/// Passes the turn on when dropped and gives the value back to the batch
/// (a panic loses it: the batch then writes nothing). It acts only on its
/// own batch.
struct PassTurn<'a, W> {
    group: &'a Group<W>,
    /// Its batch (by the batch's outcome).
    batch: Arc<OnceLock<Outcome>>,
    work: Option<W>,
    changed: bool,
}

impl<'a, W> PassTurn<'a, W> {
    /// Passes the turn without taking the value (`inner` is locked and it
    /// is the caller's turn).
    fn skip(
        group: &'a Group<W>,
        inner: &mut MutexGuard<'_, Inner<W>>,
        batch: &Arc<OnceLock<Outcome>>,
    ) -> PassTurn<'a, W> {
        let work = inner.batch.as_mut().and_then(|b| b.work.take());
        PassTurn {
            group,
            batch: Arc::clone(batch),
            work,
            changed: false,
        }
    }
}

impl<W> Drop for PassTurn<'_, W> {
    fn drop(&mut self) {
        let mut inner = self.group.inner();
        let Some(b) = &mut inner.batch else {
            return;
        };
        if !Arc::ptr_eq(&b.outcome, &self.batch) {
            return;
        }
        match self.work.take() {
            Some(w) => b.work = Some(w),
            None => b.lost = true,
        }
        if self.changed {
            b.first_change.get_or_insert(b.pos);
        }
        b.pos += 1;
        // The next member, or the leader once every member had its turn.
        let next = b.order.get(b.pos).or(b.order.first()).copied();
        if let Some(t) = next {
            inner.wake(t);
        }
    }
}

/// The leader's role. When dropped the batch is over (its outcome set, to
/// an error if the leader did not get that far) and the next queued ticket
/// may lead.
struct Leading<'a, W> {
    group: &'a Group<W>,
    me: u64,
    outcome: Option<Arc<OnceLock<Outcome>>>,
}

impl<W> Leading<'_, W> {
    fn run<R>(
        mut self,
        deadline: Instant,
        file: &impl Leader<W>,
        apply: impl Apply<W, R>,
    ) -> Result<Turn<R>> {
        let group = self.group;
        // A leader that cannot start fails alone: the next ticket leads and
        // meets the same trouble (or not) within its own deadline.
        let Begun { lock, bytes, work } = file.begin(deadline)?;
        let outcome = Arc::new(OnceLock::new());
        let mut inner = group.inner();
        let n = inner.queue.len().min(MAX_BATCH);
        let order: Vec<u64> = inner.queue.drain(..n).collect();
        inner.batch = Some(Batch {
            order,
            pos: 0,
            work: Some(work),
            bytes: bytes.clone(),
            first_change: None,
            lost: false,
            outcome: Arc::clone(&outcome),
        });
        self.outcome = Some(Arc::clone(&outcome));
        if let Some(b) = &inner.batch {
            for &t in &b.order[1..] {
                inner.wake(t);
            }
        }
        // The leader was the oldest ticket: its turn is the first.
        let mine = group.apply(inner, &outcome, apply);

        // Wait for every member's turn, then write once.
        let mut inner = group.inner();
        let (work, first_change) = loop {
            match &mut inner.batch {
                Some(b) if b.pos < b.order.len() => {}
                Some(b) if b.lost => {
                    return Err(Error::Internal(
                        "a change of this batch failed unexpectedly; nothing was written".into(),
                    ));
                }
                Some(b) => break (b.work.take(), b.first_change),
                None => return Err(Error::Internal("a batch vanished".into())),
            }
            inner = group.wait(inner, None);
        };
        drop(inner);
        let unchanged = || (Ok(None), bytes.as_deref().map(|b| file.version(b)), false);
        let (write, on_disk, rewritten) = match (work, first_change) {
            (Some(w), Some(_)) => {
                let new = file.save(&w);
                if bytes.as_deref() == Some(new.as_slice()) {
                    unchanged()
                } else {
                    match file.commit(bytes.as_deref(), &new) {
                        Ok(c) => (Ok(c.backup_id), c.version, true),
                        Err(e) => (Err(e), bytes.as_deref().map(|b| file.version(b)), false),
                    }
                }
            }
            _ => unchanged(),
        };
        drop(lock);
        let _ = outcome.set(Outcome {
            write,
            version: on_disk,
            first_change,
            rewritten,
        });
        drop(self);
        Group::<W>::result(mine, &outcome)
    }
}

impl<W> Drop for Leading<'_, W> {
    fn drop(&mut self) {
        let mut inner = self.group.inner();
        if let Some(o) = &self.outcome {
            // Already set unless the leader panicked or a batch vanished.
            let _ = o.set(Outcome {
                write: Err(Error::Internal(
                    "the rewrite of this batch failed unexpectedly".into(),
                )),
                version: None,
                first_change: Some(0),
                rewritten: false,
            });
        }
        let me = self.me;
        inner.queue.retain(|t| *t != me);
        if let Some(b) = inner.batch.take() {
            for &t in &b.order {
                inner.wake(t);
            }
        }
        inner.leading = false;
        inner.wake_front();
    }
}

/// A ticket's thread, registered for wake-ups while its call lasts.
struct Registered<'a, W> {
    group: &'a Group<W>,
    me: u64,
}

impl<W> Drop for Registered<'_, W> {
    fn drop(&mut self) {
        self.group.inner().threads.remove(&self.me);
    }
}
