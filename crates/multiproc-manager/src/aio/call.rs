//! The call path of an [`AsyncManager`]: one connection multiplexed by call id, and
//! the settling of cancelled calls (see [the module](super)).

use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;

use multiproc_ipc::SendError;
use multiproc_ipc::aio::AsyncConnection;

use crate::error::{Error, RemoteError, RemoteErrorKind};
use crate::protocol::{LockOp, Op, Request, Response};
use crate::value::Value;

use super::AsyncManager;

/// What to do with the reply of a call whose future was dropped.
#[derive(Debug, Clone, Copy)]
pub(super) enum Settle {
    Discard,
    /// A queue `get`: keep the item for the next `get` of this object here.
    Keep {
        obj: u64,
    },
    /// A lock, semaphore or condition `acquire`: release it (give the permit back) if
    /// it was obtained.
    Release {
        obj: u64,
        owner: u64,
    },
    /// A condition `wait`: the server re-acquires the lock before it answers (also on a
    /// timeout), so release it once whatever the answer; a wait whose request never went
    /// out still held the lock, so it is released as well (see
    /// [`AsyncConditionProxy::wait`]).
    Rewait {
        obj: u64,
        owner: u64,
        /// How many times the owner held it (a re-entrant lock): all are released.
        levels: u32,
    },
}

#[derive(Default)]
pub(super) struct St {
    replies: HashMap<u64, Result<Value, RemoteError>>,
    cancelled: HashMap<u64, Settle>,
    /// Items of cancelled queue gets, by queue.
    pub(super) kept: HashMap<u64, VecDeque<Value>>,
    /// Requests (unanswered, id 0) to send before the next call's own.
    owed: VecDeque<Request>,
    dead: Option<String>,
}

pub(super) struct Inner {
    pub(super) conn: AsyncConnection,
    next_id: AtomicU64,
    pub(super) st: Mutex<St>,
    /// Held by the task reading the connection (one frame at a time).
    reader: tokio::sync::Mutex<()>,
    /// Held while owed requests go out (two senders would send the same one twice).
    flushing: tokio::sync::Mutex<()>,
    /// Notified when the reader deposited a reply: a call waiting for the reader lock
    /// checks whether it was its own (else it could wait behind a reader that waits
    /// for a reply which only this call's next request would bring).
    deposited: tokio::sync::Notify,
}

impl Inner {
    pub(super) fn new(conn: AsyncConnection) -> Inner {
        Inner {
            conn,
            next_id: AtomicU64::new(1),
            st: Mutex::new(St::default()),
            reader: tokio::sync::Mutex::new(()),
            flushing: tokio::sync::Mutex::new(()),
            deposited: tokio::sync::Notify::new(),
        }
    }
}

pub(super) fn lock(m: &Mutex<St>) -> MutexGuard<'_, St> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AsyncManager {
    /// One call: sends the request (after any owed ones), then waits for its reply.
    pub(super) async fn call(
        &self,
        obj: u64,
        owner: u64,
        op: Op,
        settle: Settle,
    ) -> Result<Value, Error> {
        let inner = &self.inner;
        self.check_alive()?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let sent = AtomicBool::new(false);
        // Armed from here: a call dropped while owed requests go out is an unsent one.
        let mut guard = Pending {
            inner,
            id,
            settle,
            sent: Some(&sent),
            armed: true,
        };
        if let Err(e) = self.send_owed().await {
            guard.armed = false;
            return Err(e);
        }
        let req = Request {
            id,
            obj,
            thread: owner,
            op,
        };
        match inner.conn.send_tracked(&req, &sent).await {
            Ok(()) => {}
            Err(e @ (SendError::TooLarge { .. } | SendError::Encode(_))) => {
                guard.armed = false;
                return Err(Error::Send(e));
            }
            Err(e) => {
                guard.armed = false;
                return Err(self.died(format!("sending failed: {e}")));
            }
        }
        let r = self.await_reply(id).await;
        guard.armed = false;
        // Releases settled while reading go out now rather than with the next call.
        let v = r?;
        // The reply is taken: dropped from here on, the call is settled as one whose
        // reply came after it was dropped (an item kept, a lock released).
        let mut taken = Taken {
            st: &inner.st,
            settle,
            reply: Some(v),
        };
        self.send_owed().await?;
        taken
            .reply
            .take()
            .ok_or_else(|| Error::ManagerGone("the reply was lost".into()))
    }

    /// Takes over the oldest cancelled `get` of queue `obj` whose reply has not come:
    /// waits for that reply as if it were this call's (so items come out in order).
    /// `None` when there is none.
    pub(super) async fn adopt_get(&self, obj: u64) -> Option<Result<Value, Error>> {
        let id = {
            let mut st = lock(&self.inner.st);
            let id = st
                .cancelled
                .iter()
                .filter(|(_, s)| matches!(s, Settle::Keep { obj: o } if *o == obj))
                .map(|(id, _)| *id)
                .min()?;
            st.cancelled.remove(&id);
            id
        };
        let mut guard = Pending {
            inner: &self.inner,
            id,
            settle: Settle::Keep { obj },
            sent: None,
            armed: true,
        };
        let r = self.await_reply(id).await;
        guard.armed = false;
        Some(r)
    }

    fn check_alive(&self) -> Result<(), Error> {
        match &lock(&self.inner.st).dead {
            Some(why) => Err(Error::ManagerGone(why.clone())),
            None => Ok(()),
        }
    }

    fn died(&self, why: String) -> Error {
        let why = lock(&self.inner.st).dead.get_or_insert(why).clone();
        Error::ManagerGone(why)
    }

    /// Sends the requests cancelled calls left owed (releases), oldest first.
    async fn send_owed(&self) -> Result<(), Error> {
        if lock(&self.inner.st).owed.is_empty() {
            return Ok(());
        }
        let _flushing = self.inner.flushing.lock().await;
        loop {
            let Some(req) = lock(&self.inner.st).owed.front().map(|r| Request {
                id: 0,
                obj: r.obj,
                thread: r.thread,
                op: r.op.clone(),
            }) else {
                return Ok(());
            };
            // Popped as soon as its first byte went out (the frame is then delivered
            // whole, whatever happens to this future); dropped before that, it stays
            // owed. So it is sent once.
            let sent = AtomicBool::new(false);
            let mut popped = PopWhenSent {
                st: &self.inner.st,
                sent: &sent,
            };
            let r = self.inner.conn.send_tracked(&req, &sent).await;
            popped.pop();
            r.map_err(|e| self.died(format!("sending failed: {e}")))?;
        }
    }

    /// Waits for the reply to `id`: as the reader of the connection when nobody else
    /// is, depositing others' replies and settling cancelled ones.
    async fn await_reply(&self, id: u64) -> Result<Value, Error> {
        let inner = &self.inner;
        loop {
            let mut deposited = pin!(inner.deposited.notified());
            deposited.as_mut().enable();
            if let Some(r) = self.take_reply(id)? {
                return r;
            }
            // The reader lock, or a deposit (maybe of our reply) while waiting for it.
            let mut locking = pin!(inner.reader.lock());
            let got = poll_fn(|cx| {
                if let Poll::Ready(g) = locking.as_mut().poll(cx) {
                    return Poll::Ready(Some(g));
                }
                deposited.as_mut().poll(cx).map(|()| None)
            })
            .await;
            let Some(_reader) = got else {
                continue;
            };
            if let Some(r) = self.take_reply(id)? {
                return r;
            }
            // Cancel safe: a frame cut here stays in the connection for the next reader.
            match inner.conn.recv::<Response>().await {
                Ok(Response { id: 0, result }) => {
                    tracing::warn!("manager reported a protocol error: {result:?}");
                }
                Ok(Response { id: rid, result }) => {
                    // One lock for both: a call dropped meanwhile finds its reply
                    // either settled or deposited.
                    let settled = {
                        let mut st = lock(&inner.st);
                        match st.cancelled.remove(&rid) {
                            Some(settle) => {
                                settle_reply(&mut st, settle, result);
                                true
                            }
                            None => {
                                st.replies.insert(rid, result);
                                false
                            }
                        }
                    };
                    if settled {
                        // A release owed now goes out now: this call may be waiting
                        // for the very lock it gives back.
                        self.send_owed().await?;
                    } else {
                        inner.deposited.notify_waiters();
                    }
                }
                Err(e) => {
                    let e = self.died(e.to_string());
                    inner.deposited.notify_waiters();
                    return Err(e);
                }
            }
        }
    }

    fn take_reply(&self, id: u64) -> Result<Option<Result<Value, Error>>, Error> {
        let mut st = lock(&self.inner.st);
        if let Some(r) = st.replies.remove(&id) {
            return Ok(Some(r.map_err(|e| match e.kind {
                RemoteErrorKind::ShuttingDown => Error::ManagerGone(e.message),
                _ => Error::Remote(e),
            })));
        }
        match &st.dead {
            Some(why) => Err(Error::ManagerGone(why.clone())),
            None => Ok(None),
        }
    }
}

/// Pops the owed request being sent once its first byte went out, also when the
/// sending future is dropped.
struct PopWhenSent<'a> {
    st: &'a Mutex<St>,
    sent: &'a AtomicBool,
}

impl PopWhenSent<'_> {
    fn pop(&mut self) {
        if self.sent.swap(false, Ordering::Relaxed) {
            lock(self.st).owed.pop_front();
        }
    }
}

impl Drop for PopWhenSent<'_> {
    fn drop(&mut self) {
        self.pop();
    }
}

/// The reply of a cancelled call arrived: settle it (see the module docs).
fn settle_reply(st: &mut St, settle: Settle, result: Result<Value, RemoteError>) {
    match (settle, result) {
        (Settle::Keep { obj }, Ok(item)) => st.kept.entry(obj).or_default().push_back(item),
        (Settle::Release { obj, owner }, Ok(Value::Bool(true) | Value::Tuple(_))) => {
            owe_release(st, obj, owner, 1);
        }
        (Settle::Rewait { obj, owner, levels }, Ok(_)) => owe_release(st, obj, owner, levels),
        _ => {}
    }
}

/// A call whose reply it took, dropped before it returned it: the reply is settled as
/// a cancelled call's (an item kept, a lock obtained released).
struct Taken<'a> {
    st: &'a Mutex<St>,
    settle: Settle,
    reply: Option<Value>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(v) = self.reply.take() {
            settle_reply(&mut lock(self.st), self.settle, Ok(v));
        }
    }
}

/// Queues a release of `obj` by `owner`, sent before the next call's request.
fn owe_release(st: &mut St, obj: u64, owner: u64, times: u32) {
    for _ in 0..times {
        st.owed.push_back(Request {
            id: 0,
            obj,
            thread: owner,
            op: Op::Lock(LockOp::Release),
        });
    }
}

/// A call in flight: when its future is dropped before the reply was taken, the reply
/// is settled by whoever reads it (or now, if it is already there).
struct Pending<'a> {
    inner: &'a Inner,
    id: u64,
    settle: Settle,
    /// Whether the request went out (a request whose send was dropped before its
    /// first byte was never sent, and gets no reply); `None`: it did.
    sent: Option<&'a AtomicBool>,
    armed: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let unsent = self.sent.is_some_and(|s| !s.load(Ordering::Relaxed));
        if !self.armed {
            return;
        }
        if unsent {
            // A condition wait that never reached the server: the lock is still held;
            // a dropped wait gives it up all the same (one contract, sent or not).
            if let Settle::Rewait { obj, owner, levels } = self.settle {
                owe_release(&mut lock(&self.inner.st), obj, owner, levels);
            }
            return;
        }
        let mut st = lock(&self.inner.st);
        match st.replies.remove(&self.id) {
            Some(r) => settle_reply(&mut st, self.settle, r),
            None => {
                st.cancelled.insert(self.id, self.settle);
            }
        }
    }
}
