//! The bounds tracker: a byte-level JSON walker that knows, for the value being
//! written, which schema node(s) it belongs to, and refuses bytes that would break a
//! bound the regex leaves out (string length, item count, numeric range).
//!
//! The regex (through the outlines-core Index) already guarantees the syntax and
//! structure, so this walker can assume well-formed input and only track positions.
//! Where `anyOf` leaves several candidate nodes it applies the intersection of their
//! bounds: whichever branch the text ends up matching, its bounds then hold.

use super::numeric::Range;
use super::unique::Distinct;
use crate::schema::finite::literal_values;
use crate::schema::{Node, NodeId, SchemaIr};

/// Candidate schema nodes for the current value; `None` means unconstrained (inside
/// a literal `enum`/`const` value, which the regex pins down completely).
type Cands = Option<Vec<NodeId>>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum ObjPhase {
    KeyOrEnd,
    Colon,
    CommaOrEnd,
}

#[derive(Debug, Clone)]
enum Frame {
    /// The candidates, and whether they all stem from one parent node (see `StrState::alternatives`).
    Value(Cands, bool),
    Object { cands: Cands, phase: ObjPhase, value: Cands, value_local: bool },
    /// `prefix`: candidates of the first items (tuples), `items` of the rest; `local`: one array node.
    /// `distinct`: `uniqueItems` bookkeeping (see `unique`).
    Array { prefix: Vec<Cands>, items: Cands, local: bool, count: u64, min: u64, max: Option<u64>, started: bool, distinct: Option<Box<Distinct>> },
    Str(StrState),
    Key { bytes: Vec<u8>, escape: bool },
    Num { range: Option<Range>, text: String },
    Word,
}

/// Length accounting of the string being written.
#[derive(Debug, Clone)]
pub struct StrState {
    pub min: u64,
    pub max: Option<u64>,
    /// Characters so far (an escape pair counts once, charged at the backslash).
    pub count: u64,
    /// The previous byte was an unescaped backslash.
    pub escape: bool,
    /// Several plain strings (no pattern, no format) among the candidates: the regex cannot
    /// tell them apart, so any one whose (min, max) holds makes the text valid; `min`/`max`
    /// are then their envelope. Empty: `min`/`max` are the intersection of all candidates.
    pub alternatives: Vec<(u64, Option<u64>)>,
}

impl StrState {
    fn fits(&self, closing: bool) -> bool {
        let within = |min: u64, max: Option<u64>| max.map_or(true, |m| self.count <= m) && (!closing || self.count >= min);
        if self.alternatives.is_empty() {
            within(self.min, self.max)
        } else {
            self.alternatives.iter().any(|(min, max)| within(*min, *max))
        }
    }
}

/// What a frame did with a byte: consumed it, or closed and left it to the frame below.
enum Step {
    Consumed,
    Again,
}

#[derive(Debug, Clone)]
pub struct Tracker<'a> {
    ir: &'a SchemaIr,
    stack: Vec<Frame>,
    done: bool,
}

pub struct Violation;

impl<'a> Tracker<'a> {
    pub fn new(ir: &'a SchemaIr) -> Self {
        let mut root = Vec::new();
        ir.alternatives(ir.root, &mut root);
        Tracker { ir, stack: vec![Frame::Value(Some(root), true)], done: false }
    }

    /// The string whose content is being written, if any (keys excluded).
    pub fn in_string(&self) -> Option<&StrState> {
        match self.stack.last() {
            Some(Frame::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        bytes.iter().try_for_each(|b| self.push(*b))
    }

    /// Whether `bytes` could be appended (the tracker itself is left unchanged).
    pub fn accepts(&self, bytes: &[u8]) -> bool {
        let mut t = self.clone();
        t.push_bytes(bytes).is_ok()
    }

    /// End of output: an open top-level number (in range) or literal is finished here.
    pub fn finish(&mut self) -> Result<(), Violation> {
        if let Some(Frame::Num { .. } | Frame::Word) = self.stack.last() {
            self.push(b' ')?;
        }
        if self.done && self.stack.is_empty() {
            Ok(())
        } else {
            Err(Violation)
        }
    }

    pub fn push(&mut self, b: u8) -> Result<(), Violation> {
        // Arrays with an item open (a frame above them) record its bytes.
        let open = self.stack.len().saturating_sub(1);
        for frame in &mut self.stack[..open] {
            if let Frame::Array { distinct: Some(d), .. } = frame {
                d.record(b);
                if !d.feasible() {
                    return Err(Violation);
                }
            }
        }
        loop {
            let step = match self.stack.last() {
                None => return if is_ws(b) { Ok(()) } else { Err(Violation) },
                Some(Frame::Value(..)) => self.push_value(b)?,
                Some(Frame::Object { .. }) => self.push_object(b)?,
                Some(Frame::Array { .. }) => self.push_array(b)?,
                Some(Frame::Key { .. }) => self.push_key(b)?,
                Some(Frame::Str(_)) => self.push_str(b)?,
                Some(Frame::Num { .. }) => self.push_num(b)?,
                Some(Frame::Word) => self.push_word(b)?,
            };
            if let Step::Consumed = step {
                return Ok(());
            }
        }
    }

    /// A value's first byte (after whitespace) picks its kind: the frame that reads it.
    fn push_value(&mut self, b: u8) -> Result<Step, Violation> {
        let Some(Frame::Value(cands, local)) = self.stack.last_mut() else { unreachable!() };
        if is_ws(b) {
            return Ok(Step::Consumed);
        }
        let (cands, local) = (cands.take(), *local);
        self.stack.pop();
        self.start_value(cands, local, b).map(|()| Step::Consumed)
    }

    fn push_object(&mut self, b: u8) -> Result<Step, Violation> {
        let Some(Frame::Object { cands, phase, value, value_local }) = self.stack.last_mut() else { unreachable!() };
        match (*phase, b) {
            (_, b) if is_ws(b) => Ok(Step::Consumed),
            (ObjPhase::KeyOrEnd, b'"') => {
                *phase = ObjPhase::Colon;
                self.stack.push(Frame::Key { bytes: Vec::new(), escape: false });
                Ok(Step::Consumed)
            }
            (ObjPhase::KeyOrEnd | ObjPhase::CommaOrEnd, b'}') => {
                self.stack.pop();
                self.item_closed()?;
                self.value_done();
                Ok(Step::Consumed)
            }
            (ObjPhase::Colon, b':') => {
                let v = value.take();
                *phase = ObjPhase::CommaOrEnd;
                let local = *value_local;
                self.stack.push(Frame::Value(v, local));
                Ok(Step::Consumed)
            }
            (ObjPhase::CommaOrEnd, b',') => {
                let _ = cands;
                *phase = ObjPhase::KeyOrEnd;
                Ok(Step::Consumed)
            }
            _ => Err(Violation),
        }
    }

    /// An array's `[`, `,` or `]`: bounds on the item count, `uniqueItems`, the next item's nodes.
    fn push_array(&mut self, b: u8) -> Result<Step, Violation> {
        let ir = self.ir;
        let Some(Frame::Array { prefix, items, local, count, min, max, started, distinct }) = self.stack.last_mut() else {
            unreachable!()
        };
        if is_ws(b) {
            return Ok(Step::Consumed);
        }
        if let Some(d) = distinct.as_mut().filter(|_| *started && (b == b']' || b == b',')) {
            if !d.finish_item(b) {
                return Err(Violation);
            }
        }
        if b == b']' {
            if *count < *min {
                return Err(Violation);
            }
            self.stack.pop();
            self.item_closed()?;
            self.value_done();
            return Ok(Step::Consumed);
        }
        let next_item = if *started { b == b',' } else { true };
        if !next_item {
            return Err(Violation);
        }
        *count += 1;
        if max.is_some_and(|m| *count > m) {
            return Err(Violation);
        }
        let was_started = *started;
        *started = true;
        let v = prefix.get(*count as usize - 1).unwrap_or(items).clone();
        if let Some(d) = distinct.as_mut() {
            // No further item when every value it could take is written already.
            let finite = v.as_deref().and_then(|c| literal_values(ir, c, None));
            if finite.is_some_and(|values| !d.any_new(&values)) {
                return Err(Violation);
            }
            d.start_item(if was_started { None } else { Some(b) });
        }
        let local = *local;
        self.stack.push(Frame::Value(v, local));
        if was_started {
            return Ok(Step::Consumed); // the comma is consumed; the item starts later
        }
        Ok(Step::Again) // this byte starts the first item
    }

    fn push_key(&mut self, b: u8) -> Result<Step, Violation> {
        let Some(Frame::Key { bytes, escape }) = self.stack.last_mut() else { unreachable!() };
        if *escape {
            *escape = false;
            bytes.push(b);
            return Ok(Step::Consumed);
        }
        match b {
            b'"' => {
                let key = std::mem::take(bytes);
                self.stack.pop();
                return self.key_done(&key).map(|()| Step::Consumed);
            }
            b'\\' => *escape = true,
            _ => {}
        }
        bytes.push(b);
        Ok(Step::Consumed)
    }

    fn push_str(&mut self, b: u8) -> Result<Step, Violation> {
        let Some(Frame::Str(s)) = self.stack.last_mut() else { unreachable!() };
        if s.escape {
            s.escape = false;
            return Ok(Step::Consumed);
        }
        match b {
            b'"' => {
                if !s.fits(true) {
                    return Err(Violation);
                }
                self.stack.pop();
                self.item_closed()?;
                self.value_done();
                return Ok(Step::Consumed);
            }
            b'\\' => {
                s.escape = true;
                s.count += 1;
            }
            b if b & 0xC0 != 0x80 => s.count += 1,
            _ => {}
        }
        if s.fits(false) { Ok(Step::Consumed) } else { Err(Violation) }
    }

    fn push_num(&mut self, b: u8) -> Result<Step, Violation> {
        let Some(Frame::Num { range, text }) = self.stack.last_mut() else { unreachable!() };
        if b.is_ascii_digit() || b == b'.' || b == b'-' {
            text.push(b as char);
            return match range {
                Some(r) if !r.reachable(text) => Err(Violation),
                _ => Ok(Step::Consumed),
            };
        }
        if let Some(r) = range {
            if !r.accepts(text) {
                return Err(Violation);
            }
        }
        self.stack.pop();
        self.value_done();
        Ok(Step::Again) // the delimiter belongs to the parent
    }

    fn push_word(&mut self, b: u8) -> Result<Step, Violation> {
        if b.is_ascii_alphabetic() {
            return Ok(Step::Consumed);
        }
        self.stack.pop();
        self.value_done();
        Ok(Step::Again)
    }

    /// A string, object or array just closed: if it is an item of a `uniqueItems` array,
    /// it must not repeat an earlier one (the model can still write something else).
    fn item_closed(&mut self) -> Result<(), Violation> {
        match self.stack.last() {
            Some(Frame::Array { distinct: Some(d), .. }) if d.repeats() => Err(Violation),
            _ => Ok(()),
        }
    }

    fn value_done(&mut self) {
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    fn start_value(&mut self, cands: Cands, local: bool, b: u8) -> Result<(), Violation> {
        let ir = self.ir;
        if let (Some(Frame::Array { distinct: Some(d), .. }), Some(list)) = (self.stack.last_mut(), cands.as_ref()) {
            if let Some(values) = literal_values(ir, list, Some(b)) {
                if !d.set_known(values) {
                    return Err(Violation);
                }
            }
        }
        let fits = |n: &Node| match (n, b) {
            (Node::Object { .. }, b'{') | (Node::Array { .. }, b'[') | (Node::String { .. }, b'"') => true,
            (Node::Integer { .. } | Node::Number { .. }, b'-' | b'0'..=b'9') => true,
            (Node::Boolean, b't' | b'f') | (Node::Null, b'n') => true,
            (Node::Enum(vals), _) => vals.iter().any(|v| first_byte(v) == Some(b)),
            _ => false,
        };
        // Narrow to the nodes this first byte can belong to. An enum candidate makes
        // the value literal text, which the regex pins down: no bounds apply then.
        let cands: Cands = match cands {
            None => None,
            Some(list) => {
                let list: Vec<NodeId> = list.into_iter().filter(|id| fits(ir.node(*id))).collect();
                if list.is_empty() {
                    return Err(Violation);
                }
                if list.iter().any(|id| matches!(ir.node(*id), Node::Enum(_))) {
                    None
                } else {
                    Some(list)
                }
            }
        };
        let nodes = |c: &Cands| c.iter().flatten().map(|id| ir.node(*id)).collect::<Vec<_>>();
        match b {
            b'{' => self.stack.push(Frame::Object { cands, phase: ObjPhase::KeyOrEnd, value: None, value_local: false }),
            b'[' => self.stack.push(array_frame(ir, &cands)),
            b'"' => self.stack.push(Frame::Str(string_state(&nodes(&cands), local))),
            b'-' | b'0'..=b'9' => self.stack.push(number_frame(&nodes(&cands), b)?),
            _ => self.stack.push(Frame::Word),
        }
        Ok(())
    }

    /// A key has been read: narrow the object candidates and note the value's nodes.
    fn key_done(&mut self, key: &[u8]) -> Result<(), Violation> {
        let ir = self.ir;
        let Some(Frame::Object { cands, value, value_local, .. }) = self.stack.last_mut() else {
            return Err(Violation);
        };
        let Some(list) = cands.as_mut() else {
            *value = None;
            return Ok(());
        };
        // Keys are written JSON-escaped; schema keys here never need escaping in practice,
        // and when they do the comparison is on the escaped form of both.
        let mut vals = Vec::new();
        list.retain(|id| match ir.node(*id) {
            Node::Object { properties, .. } => properties.iter().any(|p| {
                let hit = escaped_key(&p.name).as_bytes() == key;
                if hit {
                    ir.alternatives(p.node, &mut vals);
                }
                hit
            }),
            _ => false,
        });
        if list.is_empty() {
            return Err(Violation);
        }
        *value = Some(vals);
        *value_local = list.len() == 1;
        Ok(())
    }
}

fn escaped_key(name: &str) -> String {
    let quoted = serde_json::Value::String(name.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn tighter(a: Option<crate::schema::Bound>, b: Option<crate::schema::Bound>, lower: bool) -> Option<crate::schema::Bound> {
    match (a, b) {
        (Some(x), Some(y)) => {
            let y_tighter = if lower {
                y.value > x.value || (y.value == x.value && y.exclusive)
            } else {
                y.value < x.value || (y.value == x.value && y.exclusive)
            };
            Some(if y_tighter { y } else { x })
        }
        (x, y) => x.or(y),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

fn first_byte(v: &serde_json::Value) -> Option<u8> {
    crate::schema::layout::to_json(v).bytes().next()
}

/// The frame of an array whose `[` was just written: its candidates' items (per position of
/// `prefixItems`), bounds and `uniqueItems`.
fn array_frame(ir: &SchemaIr, cands: &Cands) -> Frame {
    let (mut min, mut max, mut items) = (0u64, None::<u64>, cands.as_ref().map(|_| Vec::new()));
    let arrays: Vec<&Node> = cands.iter().flatten().map(|id| ir.node(*id)).filter(|n| matches!(n, Node::Array { .. })).collect();
    let arrays_seen = arrays.len();
    let unique = arrays.iter().any(|n| matches!(n, Node::Array { unique: true, .. }));
    let longest = arrays.iter().map(|n| match n { Node::Array { prefix, .. } => prefix.len(), _ => 0 }).max().unwrap_or(0);
    let mut prefix: Vec<Cands> = vec![cands.as_ref().map(|_| Vec::new()); longest];
    for n in arrays {
        if let Node::Array { prefix: pre, items: it, min_items, max_items, .. } = n {
            for (i, slot) in prefix.iter_mut().enumerate() {
                if let Some(list) = slot.as_mut() {
                    ir.alternatives(*pre.get(i).unwrap_or(it), list);
                }
            }
            min = min.max(*min_items);
            max = match (max, max_items) {
                (Some(a), Some(b)) => Some(a.min(*b)),
                (a, b) => a.or(*b),
            };
            if let Some(list) = items.as_mut() {
                ir.alternatives(*it, list);
            }
        }
    }
    let local = arrays_seen == 1;
    let distinct = unique.then(Box::<Distinct>::default);
    Frame::Array { prefix, items, local, count: 0, min, max, started: false, distinct }
}

/// A string's length bounds: per candidate when the candidates stem from one parent node
/// (`local`) and none has a pattern or format, else intersected.
fn string_state(nodes: &[&Node], local: bool) -> StrState {
    let mut s = StrState { min: 0, max: None, count: 0, escape: false, alternatives: Vec::new() };
    let strings: Vec<&Node> = nodes.iter().copied().filter(|n| matches!(n, Node::String { .. })).collect();
    let plain = strings.iter().all(|n| matches!(n, Node::String { pattern: None, format: None, .. }));
    // Only where the strings stem from one parent node: candidates from several
    // parents (two object branches) must agree on every field at once, which
    // choosing per string could break, so their bounds are intersected.
    if strings.len() > 1 && plain && local {
        for n in &strings {
            if let Node::String { min_length, max_length, .. } = n {
                s.alternatives.push((*min_length, *max_length));
            }
        }
        s.min = s.alternatives.iter().map(|a| a.0).min().unwrap_or(0);
        s.max = s.alternatives.iter().map(|a| a.1).collect::<Option<Vec<u64>>>().and_then(|m| m.into_iter().max());
    } else {
        for n in strings {
            if let Node::String { min_length, max_length, .. } = n {
                s.min = s.min.max(*min_length);
                s.max = match (s.max, max_length) {
                    (Some(a), Some(b)) => Some(a.min(*b)),
                    (a, b) => a.or(*b),
                };
            }
        }
    }
    s
}

/// A number's range from its candidates (all their constraints at once), refusing a first
/// byte no number in range starts with.
fn number_frame(nodes: &[&Node], b: u8) -> Result<Frame, Violation> {
    let mut range: Option<Range> = None;
    for n in nodes {
        let (lo, hi, integer, multiple_of) = match n {
            Node::Integer { minimum, maximum, multiple_of } => (*minimum, *maximum, true, *multiple_of),
            Node::Number { minimum, maximum } => (*minimum, *maximum, false, None),
            _ => continue,
        };
        range = Some(match range {
            None => Range { lo, hi, integer, multiple_of },
            // Several candidates: all their constraints at once (a subset of each).
            Some(r) => Range {
                lo: tighter(r.lo, lo, true),
                hi: tighter(r.hi, hi, false),
                integer: r.integer && integer,
                multiple_of: match (r.multiple_of, multiple_of) {
                    (Some(a), Some(b)) => Some(a / gcd(a, b) * b),
                    (a, b) => a.or(b),
                },
            },
        });
    }
    let text = (b as char).to_string();
    if let Some(r) = &range {
        if !r.reachable(&text) {
            return Err(Violation);
        }
    }
    Ok(Frame::Num { range, text })
}
