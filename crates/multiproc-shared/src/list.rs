//! [`ShareableList`]: a fixed-length list of scalars and strings in a named block.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{IndexError, ListError};
use crate::shm::SharedMemory;

const MAGIC: &[u8; 8] = b"MPSLIST1";
const HEADER: usize = 16;
const SLOT: usize = 32;

/// One element of a [`ShareableList`]. It is a serde value too, so elements can be
/// returned from a child or put on a queue.
///
/// ```
/// use multiproc_shared::{Item, ShareableList};
///
/// let list = ShareableList::new([Item::Bool(true), Item::Bytes(vec![0, 1]), "x".into(), ().into()], None)?;
/// assert_eq!(list.to_vec()?, [Item::Bool(true), Item::Bytes(vec![0, 1]), Item::Str("x".into()), Item::None]);
/// list.shm().unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Item {
    /// Python's `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A UTF-8 string (its length is stored: trailing NULs survive, unlike CPython).
    Str(String),
    /// Bytes (length stored exactly).
    Bytes(Vec<u8>),
}

impl Item {
    fn kind(&self) -> u64 {
        match self {
            Item::None => 0,
            Item::Bool(_) => 1,
            Item::Int(_) => 2,
            Item::Float(_) => 3,
            Item::Str(_) => 4,
            Item::Bytes(_) => 5,
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self {
            Item::None => Vec::new(),
            Item::Bool(b) => vec![u8::from(*b)],
            Item::Int(i) => i.to_ne_bytes().to_vec(),
            Item::Float(f) => f.to_ne_bytes().to_vec(),
            Item::Str(s) => s.as_bytes().to_vec(),
            Item::Bytes(b) => b.clone(),
        }
    }

    /// Slot capacity given at creation: 8 bytes for scalars, the next multiple of 8
    /// strictly above the length for strings and bytes (CPython's rule).
    fn capacity(&self) -> usize {
        match self {
            Item::Str(s) => 8 * (s.len() / 8 + 1),
            Item::Bytes(b) => 8 * (b.len() / 8 + 1),
            _ => 8,
        }
    }
}

macro_rules! item_from {
    ($($t:ty => $v:ident $(as $c:ty)?),*) => { $(
        impl From<$t> for Item {
            fn from(x: $t) -> Item { Item::$v(x $(as $c)?) }
        }
    )* };
}
item_from!(bool => Bool, i64 => Int, i32 => Int as i64, f64 => Float, String => Str, Vec<u8> => Bytes);

impl From<&str> for Item {
    fn from(s: &str) -> Item {
        Item::Str(s.to_string())
    }
}

impl From<()> for Item {
    fn from((): ()) -> Item {
        Item::None
    }
}

/// A fixed-length list of [`Item`]s in a named [`SharedMemory`] block
/// (`multiprocessing.shared_memory.ShareableList`).
///
/// Each slot keeps its type tag, its exact length and its capacity, so values
/// round-trip exactly (KI-27). A slot can change type if the new value fits. There is
/// no lock, as in CPython: concurrent writers to one slot need one (e.g. a
/// `multiproc_sync::Lock`).
///
/// ```
/// use multiproc_shared::{Item, ShareableList};
/// let list = ShareableList::new(["howdy".into(), Item::Int(42), Item::Float(-273.154), Item::None], None)?;
/// list.set(1, Item::Int(7))?;
/// let other = ShareableList::attach(list.name())?;
/// assert_eq!(other.get(1)?, Item::Int(7));
/// assert_eq!(other.get(0)?, Item::Str("howdy".into()));
/// assert!(list.set(0, "much too long for the slot".into()).is_err());
/// list.shm().unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ShareableList {
    shm: SharedMemory,
    len: usize,
}

fn u64_at(shm: &SharedMemory, off: usize) -> Result<u64, ListError> {
    let mut b = [0u8; 8];
    shm.read_at(off, &mut b).map_err(ListError::Index)?;
    Ok(u64::from_ne_bytes(b))
}

fn usize_at(shm: &SharedMemory, off: usize) -> Result<usize, ListError> {
    usize::try_from(u64_at(shm, off)?).map_err(|_| ListError::Corrupt("field too large"))
}

impl ShareableList {
    /// Creates the block (named `name`, or a random name) holding `items`.
    ///
    /// # Errors
    /// As [`SharedMemory::create`].
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1), "two".into()], None)?;
    /// assert_eq!(list.len(), 2);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        items: impl IntoIterator<Item = Item>,
        name: Option<&str>,
    ) -> Result<ShareableList, ListError> {
        let items: Vec<Item> = items.into_iter().collect();
        let n = items.len();
        let data_start = HEADER + SLOT * n;
        let total = data_start + items.iter().map(Item::capacity).sum::<usize>();
        let shm = SharedMemory::create(name, total)?;
        let io = |r: Result<(), IndexError>| r.map_err(ListError::Index);
        io(shm.write_at(0, MAGIC))?;
        io(shm.write_at(8, &(n as u64).to_ne_bytes()))?;
        let mut off = data_start;
        for (i, item) in items.iter().enumerate() {
            let cap = item.capacity();
            let slot = HEADER + SLOT * i;
            io(shm.write_at(slot + 16, &(cap as u64).to_ne_bytes()))?;
            io(shm.write_at(slot + 24, &(off as u64).to_ne_bytes()))?;
            off += cap;
        }
        let list = ShareableList { shm, len: n };
        for (i, item) in items.into_iter().enumerate() {
            list.set(i, item)?;
        }
        Ok(list)
    }

    /// Attaches to the list in the block `name`.
    ///
    /// # Errors
    /// As [`SharedMemory::attach`]; [`ListError::Corrupt`] if the block is not a list.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1)], None)?;
    /// let same = ShareableList::attach(list.name())?;
    /// same.set(0, Item::Int(2))?;
    /// assert_eq!(list.get(0)?, Item::Int(2));
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(name: &str) -> Result<ShareableList, ListError> {
        let shm = SharedMemory::attach(name)?;
        let mut magic = [0u8; 8];
        shm.read_at(0, &mut magic)
            .map_err(|_| ListError::Corrupt("block too small"))?;
        if &magic != MAGIC {
            return Err(ListError::Corrupt("bad magic"));
        }
        let len = usize_at(&shm, 8)?;
        if len
            .checked_mul(SLOT)
            .and_then(|s| s.checked_add(HEADER))
            .is_none_or(|e| e > shm.size())
        {
            return Err(ListError::Corrupt("length exceeds the block"));
        }
        Ok(ShareableList { shm, len })
    }

    /// The number of slots.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::None, Item::None], None)?;
    /// assert_eq!(list.len(), 2);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no slots.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::None], None)?;
    /// assert!(!list.is_empty());
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The block's name.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::None], None)?;
    /// assert_eq!(list.name(), list.shm().name());
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        self.shm.name()
    }

    /// The underlying block (to `unlink` it, for instance).
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1)], None)?;
    /// assert!(list.shm().size() > 0);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    fn slot(&self, i: usize) -> Result<(u64, usize, usize, usize), ListError> {
        if i >= self.len {
            return Err(ListError::Index(IndexError {
                index: i,
                len: self.len,
            }));
        }
        let s = HEADER + SLOT * i;
        let kind = u64_at(&self.shm, s)?;
        let len = usize_at(&self.shm, s + 8)?;
        let cap = usize_at(&self.shm, s + 16)?;
        let off = usize_at(&self.shm, s + 24)?;
        if kind > 5 || len > cap || off.checked_add(cap).is_none_or(|e| e > self.shm.size()) {
            return Err(ListError::Corrupt("bad slot"));
        }
        Ok((kind, len, cap, off))
    }

    /// Item `i`.
    ///
    /// # Errors
    /// [`ListError::Index`] past the end; [`ListError::Corrupt`] if the slot was
    /// overwritten with garbage.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Float(0.5)], None)?;
    /// assert_eq!(list.get(0)?, Item::Float(0.5));
    /// assert!(list.get(1).is_err()); // Index
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, i: usize) -> Result<Item, ListError> {
        let (kind, len, _, off) = self.slot(i)?;
        let mut buf = vec![0u8; len];
        self.shm.read_at(off, &mut buf).map_err(ListError::Index)?;
        let word = || {
            let mut w = [0u8; 8];
            let k = buf.len().min(8);
            w[..k].copy_from_slice(&buf[..k]);
            w
        };
        Ok(match kind {
            0 => Item::None,
            1 => Item::Bool(buf.first().is_some_and(|&b| b != 0)),
            2 => Item::Int(i64::from_ne_bytes(word())),
            3 => Item::Float(f64::from_ne_bytes(word())),
            4 => {
                Item::Str(String::from_utf8(buf).map_err(|_| ListError::Corrupt("invalid UTF-8"))?)
            }
            _ => Item::Bytes(buf),
        })
    }

    /// Replaces item `i` (the type may change if the value fits the slot).
    ///
    /// # Errors
    /// [`ListError::Index`] past the end; [`ListError::TooLarge`] if it does not fit.
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new(["abc".into()], None)?;
    /// list.set(0, "xy".into())?; // fits the slot
    /// assert_eq!(list.get(0)?, Item::Str("xy".into()));
    /// assert!(list.set(0, "a much longer string than the slot holds".into()).is_err()); // TooLarge
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, i: usize, item: Item) -> Result<(), ListError> {
        let (_, _, cap, off) = self.slot(i)?;
        let payload = item.payload();
        if payload.len() > cap {
            return Err(ListError::TooLarge {
                index: i,
                needed: payload.len(),
                capacity: cap,
            });
        }
        let s = HEADER + SLOT * i;
        let io = |r: Result<(), IndexError>| r.map_err(ListError::Index);
        io(self.shm.write_at(off, &payload))?;
        io(self
            .shm
            .write_at(s + 8, &(payload.len() as u64).to_ne_bytes()))?;
        io(self.shm.write_at(s, &item.kind().to_ne_bytes()))?;
        Ok(())
    }

    /// Every item, in order.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1), Item::Bool(false)], None)?;
    /// assert_eq!(list.to_vec()?, [Item::Int(1), Item::Bool(false)]);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<Item>, ListError> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// How many items equal `item` (`count`).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1), Item::Int(2), Item::Int(1)], None)?;
    /// assert_eq!(list.count(&Item::Int(1))?, 2);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, item: &Item) -> Result<usize, ListError> {
        Ok(self.to_vec()?.iter().filter(|x| *x == item).count())
    }

    /// The first index holding `item` (`index`), `None` if absent.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// ```
    /// use multiproc_shared::{Item, ShareableList};
    /// let list = ShareableList::new([Item::Int(1), Item::Int(2)], None)?;
    /// assert_eq!(list.index(&Item::Int(2))?, Some(1));
    /// assert_eq!(list.index(&Item::Int(3))?, None);
    /// list.shm().unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self, item: &Item) -> Result<Option<usize>, ListError> {
        Ok(self.to_vec()?.iter().position(|x| x == item))
    }
}

impl fmt::Debug for ShareableList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareableList")
            .field("name", &self.name())
            .field("len", &self.len)
            .finish()
    }
}

impl Serialize for ShareableList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shm.name().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShareableList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ShareableList::attach(&name).map_err(serde::de::Error::custom)
    }
}
