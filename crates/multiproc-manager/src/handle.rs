//! [`Handle`]: what every proxy is made of (client, object id, kind), and how it travels
//! (as *(server address, authkey, object id)*). Below `proxy.rs` and `acquire.rs`, which
//! both call through it.

use std::fmt;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::client::{self, Inner, Origin};
use crate::error::{Error, TypeMismatch};
use crate::protocol::{AnyOp, Op};
use crate::value::{FromValue, Kind, ObjRef, Value};

/// What every proxy is made of.
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) client: Arc<Inner>,
    pub(crate) id: u64,
    pub(crate) kind: Kind,
}

impl Handle {
    pub(crate) fn call(&self, op: Op) -> Result<Value, Error> {
        self.client.call(self.id, op)
    }

    /// A call whose reply is of no interest (an operation's `None`, or what the
    /// proxy's method does not return).
    pub(crate) fn call_unit(&self, op: Op) -> Result<(), Error> {
        self.call(op).map(drop)
    }

    pub(crate) fn call_as<T: FromValue>(&self, op: Op) -> Result<T, Error> {
        let v = self.call(op)?;
        client::convert(&self.client, v)
    }

    pub(crate) fn objref(&self) -> ObjRef {
        ObjRef {
            id: self.id,
            kind: self.kind.clone(),
        }
    }

    pub(crate) fn repr(&self) -> Result<String, Error> {
        self.call_as::<String>(Op::Any(AnyOp::Repr))
    }

    pub(crate) fn display(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repr() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<{} proxy #{}: {e}>", self.kind.typeid(), self.id),
        }
    }

    pub(crate) fn from_current(
        v: Value,
        want: &[Kind],
        name: &'static str,
    ) -> Result<Handle, TypeMismatch> {
        let r = match v {
            Value::Proxy(ref r) => r.clone(),
            other => return Err(TypeMismatch::found(name, &other)),
        };
        if !want.contains(&r.kind) {
            return Err(TypeMismatch::new(
                name,
                format!("a {} proxy", r.kind.typeid()),
            ));
        }
        let client = client::current().ok_or_else(|| {
            TypeMismatch::new(name, "a proxy reference outside a manager reply".into())
        })?;
        Ok(Handle {
            client,
            id: r.id,
            kind: r.kind,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireProxy {
    origin: Origin,
    id: u64,
    kind: Kind,
}

impl Serialize for Handle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let origin = self.client.origin.clone().ok_or_else(|| {
            S::Error::custom(
                "a proxy of a manager reached over an anonymous pipe has no address to travel with",
            )
        })?;
        WireProxy {
            origin,
            id: self.id,
            kind: self.kind.clone(),
        }
        .serialize(s)
    }
}

impl Handle {
    /// A received handle, which must be to an object of one of `want` (`name`: the
    /// proxy type, for the error).
    pub(crate) fn deserialize_of<'de, D: Deserializer<'de>>(
        d: D,
        want: &[Kind],
        name: &str,
    ) -> Result<Handle, D::Error> {
        let h = Handle::deserialize(d)?;
        if !want.contains(&h.kind) {
            return Err(D::Error::custom(format!(
                "expected a {name} proxy, got a {} proxy",
                h.kind.typeid()
            )));
        }
        Ok(h)
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireProxy::deserialize(d)?;
        let client = Inner::for_origin(&w.origin).map_err(|e| {
            let msg = format!("cannot reach the manager of a received proxy: {e}");
            multiproc_ipc::handle::note_custom_error(&msg);
            D::Error::custom(msg)
        })?;
        Ok(Handle {
            client,
            id: w.id,
            kind: w.kind,
        })
    }
}
