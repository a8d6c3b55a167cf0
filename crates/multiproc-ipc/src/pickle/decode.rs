//! The decoder: a scan of the whole pickle into opcodes (refusing anything outside
//! the data-only allow-list), then a small stack machine over an arena of nodes, then
//! a bounded, non-recursive expansion of the arena into a [`PickleValue`] tree.

use std::collections::HashMap;

use super::Limits;
use super::error::PickleError;
use super::value::{BigInt, PickleValue, le_to_i128};

/// One opcode of the allow-list, with its argument.
#[derive(Debug)]
enum Op<'a> {
    Mark,
    Stop,
    Pop,
    PopMark,
    Dup,
    None,
    Bool(bool),
    Int(i64),
    Long(&'a [u8]),
    Float(f64),
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    EmptyList,
    Append,
    Appends,
    List,
    EmptyTuple,
    Tuple,
    TupleN(u8),
    EmptyDict,
    Dict,
    SetItem,
    SetItems,
    EmptySet,
    AddItems,
    FrozenSet,
    Get(u32),
    Put(u32),
    Memoize,
}

/// What the scan does with an opcode byte.
enum Class {
    /// Allowed, with the size of its fixed argument (or the size of a length field).
    Fixed(usize),
    /// Allowed, argument is a length of this many little-endian bytes then data.
    Counted(usize),
    Forbidden(&'static str),
    Unsupported(&'static str),
    Unknown,
}

fn class(op: u8) -> Class {
    use Class::*;
    match op {
        // structure
        b'(' | b'.' | b'0' | b'1' | b'2' => Fixed(0),
        0x80 => Fixed(1), // PROTO
        0x95 => Fixed(8), // FRAME
        // scalars
        b'N' | 0x88 | 0x89 => Fixed(0),
        b'J' => Fixed(4),   // BININT
        b'K' => Fixed(1),   // BININT1
        b'M' => Fixed(2),   // BININT2
        b'G' => Fixed(8),   // BINFLOAT
        0x8a => Counted(1), // LONG1
        0x8b => Counted(4), // LONG4
        b'X' => Counted(4), // BINUNICODE
        0x8c => Counted(1), // SHORT_BINUNICODE
        0x8d => Counted(8), // BINUNICODE8
        b'B' => Counted(4), // BINBYTES
        b'C' => Counted(1), // SHORT_BINBYTES
        0x8e => Counted(8), // BINBYTES8
        0x96 => Counted(8), // BYTEARRAY8
        // containers
        b']' | b'a' | b'e' | b'l' => Fixed(0),
        b')' | b't' | 0x85 | 0x86 | 0x87 => Fixed(0),
        b'}' | b'd' | b's' | b'u' => Fixed(0),
        0x8f..=0x91 => Fixed(0), // EMPTY_SET, ADDITEMS, FROZENSET
        // memo
        b'h' | b'q' => Fixed(1),
        b'j' | b'r' => Fixed(4),
        0x94 => Fixed(0),
        // imports and calls: never
        b'c' => Forbidden("GLOBAL"),
        0x93 => Forbidden("STACK_GLOBAL"),
        b'R' => Forbidden("REDUCE"),
        b'b' => Forbidden("BUILD"),
        b'i' => Forbidden("INST"),
        b'o' => Forbidden("OBJ"),
        0x81 => Forbidden("NEWOBJ"),
        0x92 => Forbidden("NEWOBJ_EX"),
        0x82 => Forbidden("EXT1"),
        0x83 => Forbidden("EXT2"),
        0x84 => Forbidden("EXT4"),
        b'P' => Forbidden("PERSID"),
        b'Q' => Forbidden("BINPERSID"),
        // data, but not read here
        b'I' => Unsupported("INT"),
        b'L' => Unsupported("LONG"),
        b'F' => Unsupported("FLOAT"),
        b'S' => Unsupported("STRING"),
        b'T' => Unsupported("BINSTRING"),
        b'U' => Unsupported("SHORT_BINSTRING"),
        b'V' => Unsupported("UNICODE"),
        b'g' => Unsupported("GET"),
        b'p' => Unsupported("PUT"),
        0x97 => Unsupported("NEXT_BUFFER"),
        0x98 => Unsupported("READONLY_BUFFER"),
        _ => Unknown,
    }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// Reads the opcode at `*pos` and moves past it, refusing anything outside the
/// allow-list; `None` for the opcodes that only check (`PROTO`, `FRAME`).
fn read_op<'a>(data: &'a [u8], pos: &mut usize) -> Result<Option<Op<'a>>, PickleError> {
    let offset = *pos;
    let Some(&code) = data.get(*pos) else {
        return Err(PickleError::Truncated { offset });
    };
    *pos += 1;
    match class(code) {
        Class::Forbidden(name) => Err(PickleError::Forbidden {
            opcode: code,
            name,
            offset,
        }),
        Class::Unsupported(name) => Err(PickleError::Unsupported {
            opcode: code,
            name,
            offset,
        }),
        Class::Unknown => Err(PickleError::UnknownOpcode {
            opcode: code,
            offset,
        }),
        Class::Fixed(n) => {
            let arg = data[*pos..]
                .get(..n)
                .ok_or(PickleError::Truncated { offset })?;
            *pos += n;
            fixed_op(code, arg, data.len() - *pos, offset)
        }
        Class::Counted(n) => counted_op(code, n, data, pos, offset).map(Some),
    }
}

/// The opcode `code` with its fixed-size argument `arg`, `remaining` bytes after it.
fn fixed_op(
    code: u8,
    arg: &[u8],
    remaining: usize,
    offset: usize,
) -> Result<Option<Op<'static>>, PickleError> {
    let op = match code {
        b'(' => Op::Mark,
        b'.' => Op::Stop,
        b'0' => Op::Pop,
        b'1' => Op::PopMark,
        b'2' => Op::Dup,
        0x80 => {
            if arg[0] > 5 {
                return Err(PickleError::Protocol(arg[0]));
            }
            return Ok(None);
        }
        0x95 => {
            // FRAME: a buffering hint; its length must lie inside the input.
            if le_u64(arg) > remaining as u64 {
                return Err(PickleError::Truncated { offset });
            }
            return Ok(None);
        }
        b'N' => Op::None,
        0x88 => Op::Bool(true),
        0x89 => Op::Bool(false),
        b'J' => Op::Int(i64::from(i32::from_le_bytes([
            arg[0], arg[1], arg[2], arg[3],
        ]))),
        b'K' => Op::Int(i64::from(arg[0])),
        b'M' => Op::Int(i64::from(u16::from_le_bytes([arg[0], arg[1]]))),
        b'G' => Op::Float(f64::from_be_bytes([
            arg[0], arg[1], arg[2], arg[3], arg[4], arg[5], arg[6], arg[7],
        ])),
        b']' => Op::EmptyList,
        b'a' => Op::Append,
        b'e' => Op::Appends,
        b'l' => Op::List,
        b')' => Op::EmptyTuple,
        b't' => Op::Tuple,
        0x85 => Op::TupleN(1),
        0x86 => Op::TupleN(2),
        0x87 => Op::TupleN(3),
        b'}' => Op::EmptyDict,
        b'd' => Op::Dict,
        b's' => Op::SetItem,
        b'u' => Op::SetItems,
        0x8f => Op::EmptySet,
        0x90 => Op::AddItems,
        0x91 => Op::FrozenSet,
        b'h' => Op::Get(u32::from(arg[0])),
        b'q' => Op::Put(u32::from(arg[0])),
        b'j' => Op::Get(u32::from_le_bytes([arg[0], arg[1], arg[2], arg[3]])),
        b'r' => Op::Put(u32::from_le_bytes([arg[0], arg[1], arg[2], arg[3]])),
        _ => Op::Memoize, // 0x94, the only other Fixed opcode
    };
    Ok(Some(op))
}

/// The opcode `code` whose argument is a length of `n` bytes at `*pos`, then that
/// many bytes of data; moves `*pos` past both.
fn counted_op<'a>(
    code: u8,
    n: usize,
    data: &'a [u8],
    pos: &mut usize,
    offset: usize,
) -> Result<Op<'a>, PickleError> {
    let len_bytes = data[*pos..]
        .get(..n)
        .ok_or(PickleError::Truncated { offset })?;
    if code == 0x8b && len_bytes[3] & 0x80 != 0 {
        return Err(PickleError::Malformed {
            offset,
            reason: "negative length",
        });
    }
    let len = le_u64(len_bytes);
    *pos += n;
    let avail = (data.len() - *pos) as u64;
    if len > avail {
        return Err(PickleError::Truncated { offset });
    }
    let len = len as usize; // fits: not more than the input's length
    let arg = &data[*pos..*pos + len];
    *pos += len;
    Ok(match code {
        0x8a | 0x8b => Op::Long(arg),
        b'X' | 0x8c | 0x8d => Op::Str(arg),
        _ => Op::Bytes(arg), // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
    })
}

/// Scans the whole pickle: every opcode allowed, every argument inside the input,
/// one `STOP` at the end. Nothing is built, nothing is kept.
fn scan(data: &[u8]) -> Result<(), PickleError> {
    let mut pos = 0;
    while !matches!(read_op(data, &mut pos)?, Some(Op::Stop)) {}
    if pos < data.len() {
        return Err(PickleError::TrailingBytes {
            count: data.len() - pos,
        });
    }
    Ok(())
}

/// The decoder's memory bound ([`Limits::max_size`]), shared by the machine and the
/// expansion.
struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            Err(PickleError::TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }
}

/// What one opcode may add to the machine, payload aside: a node, a stack slot and a
/// memo entry, generously.
const OP_COST: usize = std::mem::size_of::<Node>() + 64;

/// A node of the arena: the stack machine's objects, shared by reference as in Python.
enum Node {
    Leaf(Option<PickleValue>),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    FrozenSet(Vec<usize>),
}

struct Machine {
    nodes: Vec<Node>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u32, usize>,
}

impl Machine {
    fn push(&mut self, node: Node) {
        self.stack.push(self.nodes.len());
        self.nodes.push(node);
    }

    fn pop(&mut self, offset: usize) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(_) if self.marks.last().is_some_and(|&m| m >= self.stack.len()) => {
                Err(malformed(offset, "stack underflow below a mark"))
            }
            Some(&top) => {
                self.stack.pop();
                Ok(top)
            }
            None => Err(malformed(offset, "stack underflow")),
        }
    }

    fn pop_mark(&mut self, offset: usize) -> Result<Vec<usize>, PickleError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| malformed(offset, "no mark"))?;
        Ok(self.stack.split_off(m))
    }

    fn top(&self, offset: usize) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(_) if self.marks.last().is_some_and(|&m| m >= self.stack.len()) => {
                Err(malformed(offset, "stack underflow below a mark"))
            }
            Some(&t) => Ok(t),
            None => Err(malformed(offset, "stack underflow")),
        }
    }
}

fn malformed(offset: usize, reason: &'static str) -> PickleError {
    PickleError::Malformed { offset, reason }
}

/// Decodes a pickle into a value (the scan first, then the machine, then expansion).
pub(crate) fn decode(data: &[u8], limits: &Limits) -> Result<PickleValue, PickleError> {
    scan(data)?;
    let mut budget = Budget {
        used: 0,
        limit: limits.max_size,
    };
    let mut m = Machine {
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let mut root = None;
    let mut pos = 0;
    while root.is_none() {
        let offset = pos;
        let Some(op) = read_op(data, &mut pos)? else {
            continue;
        };
        // What one opcode can add: a node, a stack slot, a memo entry, its payload.
        let payload = match op {
            Op::Long(b) | Op::Str(b) | Op::Bytes(b) => b.len(),
            _ => 0,
        };
        budget.charge(OP_COST.saturating_add(payload))?;
        root = m.step(op, offset)?;
    }
    let root = root.ok_or(PickleError::Truncated { offset: data.len() })?;
    expand(m.nodes, root, limits, budget)
}

/// The value of a `LONG1`/`LONG4` argument: an `Int` where it fits, else a `BigInt`.
fn long_value(bytes: &[u8]) -> PickleValue {
    if bytes.is_empty() {
        PickleValue::Int(0)
    } else if let Some(i) = le_to_i128(bytes) {
        PickleValue::Int(i)
    } else {
        match BigInt::from_le_bytes(bytes) {
            Some(b) => PickleValue::BigInt(b),
            None => PickleValue::Int(0),
        }
    }
}

/// Pairs up a dict's flat items (key, value, key, value, …); an odd count is refused.
fn pairs(items: &[usize], offset: usize) -> Result<Vec<(usize, usize)>, PickleError> {
    if items.len() % 2 != 0 {
        return Err(malformed(offset, "odd number of items for a dict"));
    }
    Ok(items.chunks(2).map(|p| (p[0], p[1])).collect())
}

impl Machine {
    /// Runs one opcode; the root's node once `STOP` is reached.
    fn step(&mut self, op: Op<'_>, offset: usize) -> Result<Option<usize>, PickleError> {
        match op {
            Op::Mark => self.marks.push(self.stack.len()),
            Op::Stop => {
                if !self.marks.is_empty() || self.stack.len() != 1 {
                    return Err(malformed(offset, "stop with more or less than one value"));
                }
                return match self.stack.pop() {
                    Some(root) => Ok(Some(root)),
                    None => Err(malformed(offset, "nothing to return")),
                };
            }
            Op::Pop => {
                // POP of an empty mark removes the mark (CPython's `pop`, too)
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop(offset)?;
                }
            }
            Op::PopMark => {
                self.pop_mark(offset)?;
            }
            Op::Dup => {
                let t = self.top(offset)?;
                self.stack.push(t);
            }
            Op::None => self.leaf(PickleValue::None),
            Op::Bool(b) => self.leaf(PickleValue::Bool(b)),
            Op::Int(i) => self.leaf(PickleValue::Int(i128::from(i))),
            Op::Long(bytes) => self.leaf(long_value(bytes)),
            Op::Float(x) => self.leaf(PickleValue::Float(x)),
            Op::Str(b) => {
                let s = std::str::from_utf8(b).map_err(|_| PickleError::InvalidUtf8 { offset })?;
                self.leaf(PickleValue::Str(s.to_owned()));
            }
            Op::Bytes(b) => self.leaf(PickleValue::Bytes(b.to_vec())),
            Op::Get(i) => {
                let n = *self
                    .memo
                    .get(&i)
                    .ok_or_else(|| malformed(offset, "memo entry missing"))?;
                self.stack.push(n);
            }
            Op::Put(i) => {
                let t = self.top(offset)?;
                self.memo.insert(i, t);
            }
            Op::Memoize => {
                let t = self.top(offset)?;
                let i = u32::try_from(self.memo.len())
                    .map_err(|_| malformed(offset, "memo overflow"))?;
                self.memo.insert(i, t);
            }
            container => self.container_op(container, offset)?,
        }
        Ok(None)
    }

    fn leaf(&mut self, v: PickleValue) {
        self.push(Node::Leaf(Some(v)));
    }

    /// Runs an opcode that makes a container or adds to one.
    fn container_op(&mut self, op: Op<'_>, offset: usize) -> Result<(), PickleError> {
        match op {
            Op::EmptyList => self.push(Node::List(Vec::new())),
            Op::EmptyTuple => self.push(Node::Tuple(Vec::new())),
            Op::EmptyDict => self.push(Node::Dict(Vec::new())),
            Op::EmptySet => self.push(Node::Set(Vec::new())),
            Op::List => {
                let items = self.pop_mark(offset)?;
                self.push(Node::List(items));
            }
            Op::Tuple => {
                let items = self.pop_mark(offset)?;
                self.push(Node::Tuple(items));
            }
            Op::FrozenSet => {
                let items = self.pop_mark(offset)?;
                self.push(Node::FrozenSet(items));
            }
            Op::TupleN(n) => {
                let mut items = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    items.push(self.pop(offset)?);
                }
                items.reverse();
                self.push(Node::Tuple(items));
            }
            Op::Dict => {
                let items = self.pop_mark(offset)?;
                let pairs = pairs(&items, offset)?;
                self.push(Node::Dict(pairs));
            }
            Op::Append => {
                let v = self.pop(offset)?;
                match self.top_node(offset)? {
                    Node::List(items) => items.push(v),
                    _ => return Err(malformed(offset, "append to a non-list")),
                }
            }
            Op::Appends => {
                let vs = self.pop_mark(offset)?;
                match self.top_node(offset)? {
                    Node::List(items) => items.extend(vs),
                    _ => return Err(malformed(offset, "append to a non-list")),
                }
            }
            Op::SetItem => {
                let v = self.pop(offset)?;
                let k = self.pop(offset)?;
                match self.top_node(offset)? {
                    Node::Dict(pairs) => pairs.push((k, v)),
                    _ => return Err(malformed(offset, "setitem on a non-dict")),
                }
            }
            Op::SetItems => {
                let vs = self.pop_mark(offset)?;
                let new = pairs(&vs, offset)?;
                match self.top_node(offset)? {
                    Node::Dict(pairs) => pairs.extend(new),
                    _ => return Err(malformed(offset, "setitems on a non-dict")),
                }
            }
            Op::AddItems => {
                let vs = self.pop_mark(offset)?;
                match self.top_node(offset)? {
                    Node::Set(items) => items.extend(vs),
                    _ => return Err(malformed(offset, "additems on a non-set")),
                }
            }
            // `step` runs every other opcode itself
            _ => return Err(malformed(offset, "not a container opcode")),
        }
        Ok(())
    }

    /// The node on top of the stack, to add to.
    fn top_node(&mut self, offset: usize) -> Result<&mut Node, PickleError> {
        let t = self.top(offset)?;
        Ok(&mut self.nodes[t])
    }
}

/// Builds the tree below `root` without recursion: depth bounded, size bounded,
/// cycles refused.
fn expand(
    nodes: Vec<Node>,
    root: usize,
    limits: &Limits,
    budget: Budget,
) -> Result<PickleValue, PickleError> {
    let mut x = Expansion {
        uses: count_uses(&nodes, root),
        on_path: vec![false; nodes.len()],
        nodes,
        stack: Vec::new(),
        max_depth: limits.max_depth,
        budget,
    };
    let mut todo = Some(root);
    loop {
        if let Some(id) = todo.take() {
            if let Some(v) = x.visit(id)? {
                match x.stack.last_mut() {
                    Some(top) => top.items.push(v),
                    None => return Ok(v),
                }
            }
        }
        let Some(top) = x.stack.last_mut() else {
            return Err(PickleError::Recursive); // unreachable: the root returned above
        };
        if let Some(&child) = top.children.get(top.next) {
            top.next += 1;
            todo = Some(child);
            continue;
        }
        let built = x.close()?;
        match x.stack.last_mut() {
            Some(parent) => parent.items.push(built),
            None => return Ok(built),
        }
    }
}

/// How many references each node has (the root's from outside), so that a leaf
/// reached once is moved.
fn count_uses(nodes: &[Node], root: usize) -> Vec<usize> {
    let mut uses = vec![0usize; nodes.len()];
    uses[root] += 1;
    for n in nodes {
        match n {
            Node::List(c) | Node::Tuple(c) | Node::Set(c) | Node::FrozenSet(c) => {
                c.iter().for_each(|&i| uses[i] += 1)
            }
            Node::Dict(p) => p.iter().for_each(|&(k, v)| {
                uses[k] += 1;
                uses[v] += 1;
            }),
            Node::Leaf(_) => {}
        }
    }
    uses
}

/// A container being expanded: its children flattened, the next one, the items built.
struct Frame {
    /// Whether this container may be expanded more than once.
    shared: bool,
    node: usize,
    children: Vec<usize>,
    next: usize,
    items: Vec<PickleValue>,
}

/// The state of [`expand`]: the arena, the path from the root, the budget.
struct Expansion {
    nodes: Vec<Node>,
    uses: Vec<usize>,
    on_path: Vec<bool>,
    stack: Vec<Frame>,
    max_depth: usize,
    budget: Budget,
}

impl Expansion {
    /// Starts on node `id`: a leaf's value at once (`Some`), or a container's frame
    /// pushed (`None`).
    fn visit(&mut self, id: usize) -> Result<Option<PickleValue>, PickleError> {
        let children: Vec<usize> = match &self.nodes[id] {
            Node::Leaf(_) => return self.leaf(id).map(Some),
            Node::List(c) | Node::Tuple(c) | Node::Set(c) | Node::FrozenSet(c) => c.clone(),
            Node::Dict(p) => p.iter().flat_map(|&(k, v)| [k, v]).collect(),
        };
        if self.on_path[id] {
            return Err(PickleError::Recursive);
        }
        if self.stack.len() >= self.max_depth {
            return Err(PickleError::TooDeep {
                limit: self.max_depth,
            });
        }
        let node_size = std::mem::size_of::<PickleValue>();
        self.budget
            .charge(children.len().saturating_mul(node_size))?;
        self.on_path[id] = true;
        let items = Vec::with_capacity(children.len());
        let shared = self.uses[id] > 1 || self.stack.last().is_some_and(|f| f.shared);
        self.stack.push(Frame {
            shared,
            node: id,
            children,
            next: 0,
            items,
        });
        Ok(None)
    }

    /// The value of leaf `id`: moved out when it is visited once only, else copied.
    fn leaf(&mut self, id: usize) -> Result<PickleValue, PickleError> {
        // Visited once only when it and every container above it are
        // referred to once: then it can be moved instead of copied.
        let once = self.uses[id] == 1 && !self.stack.last().is_some_and(|f| f.shared);
        let Node::Leaf(slot) = &mut self.nodes[id] else {
            return Err(PickleError::Recursive); // unreachable: a leaf
        };
        // A copy's payload is charged before it is made; a move's was
        // charged when the machine read it.
        let extra = match slot {
            Some(PickleValue::Str(s)) if !once => s.len(),
            Some(PickleValue::Bytes(b)) if !once => b.len(),
            Some(PickleValue::BigInt(b)) if !once => b.to_le_bytes().len(),
            _ => 0,
        };
        self.budget.charge(extra)?; // its slot is in its parent's items
        Ok(if once {
            slot.take().unwrap_or(PickleValue::None)
        } else {
            slot.clone().unwrap_or(PickleValue::None)
        })
    }

    /// Pops the finished top frame and builds its container.
    fn close(&mut self) -> Result<PickleValue, PickleError> {
        let Some(frame) = self.stack.pop() else {
            return Err(PickleError::Recursive); // unreachable: the caller saw a frame
        };
        self.on_path[frame.node] = false;
        let items = frame.items;
        Ok(match &self.nodes[frame.node] {
            Node::List(_) => PickleValue::List(items),
            Node::Tuple(_) => PickleValue::Tuple(items),
            Node::Set(_) => PickleValue::Set(items),
            Node::FrozenSet(_) => PickleValue::FrozenSet(items),
            _ => {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                PickleValue::Dict(pairs)
            }
        })
    }
}
