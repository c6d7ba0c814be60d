//! An object or array being written as one value: the bracket opened, members appended (runs of
//! untouched input bytes copied in one go, separators written where something precedes), the
//! bracket closed, and the input span copied instead when nothing changed, so an untouched
//! container keeps its exact formatting. Objects and arrays share all of it.

use phi_scrub_json::{JsonError, Scanner, Shape, ValueKind};

/// The shape of a rewritten object or array: for limits such as Mixpanel's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Structure of what was written.
    pub shape: Shape,
    /// Members written at the container's own level.
    pub members: u32,
    /// Whether anything differs from the input (if not, the input span was copied verbatim).
    pub modified: bool,
}

/// Where a member's output started, to take it back (see [`Container::rewind`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    out_len: usize,
    written_any: bool,
}

/// Output of one object, array or lone value under construction, written into `out`.
#[derive(Debug)]
pub(super) struct Container<'o> {
    out: &'o mut Vec<u8>,
    kind: ValueKind,
    in_start: usize,
    out_start: usize,
    written_any: bool,
    run: Option<(usize, usize)>,
    pub(super) members: u32,
    pub(super) shape: Shape,
    pub(super) modified: bool,
}

impl<'o> Container<'o> {
    /// Opens the object or array at the scanner's position: its bracket is read and written.
    pub(super) fn begin(sc: &mut Scanner<'_, '_>, kind: ValueKind, out: &'o mut Vec<u8>) -> Result<Self, JsonError> {
        sc.peek_kind()?;
        let (in_start, out_start) = (sc.pos(), out.len());
        if kind == ValueKind::Object {
            sc.begin_object()?;
            out.push(b'{');
        } else {
            sc.begin_array()?;
            out.push(b'[');
        }
        Ok(Self::at(out, kind, in_start, out_start))
    }

    /// A single value written on its own (no brackets, no separator): a field the caller
    /// places itself.
    pub(super) fn lone_value(sc: &Scanner<'_, '_>, out: &'o mut Vec<u8>) -> Self {
        let out_start = out.len();
        Self::at(out, ValueKind::Null, sc.pos(), out_start)
    }

    fn at(out: &'o mut Vec<u8>, kind: ValueKind, in_start: usize, out_start: usize) -> Self {
        Self {
            out,
            kind,
            in_start,
            out_start,
            written_any: false,
            run: None,
            members: 0,
            shape: Shape::default(),
            modified: false,
        }
    }

    /// Closes the container after the scanner read its closing bracket.
    pub(super) fn finish(mut self, sc: &Scanner<'_, '_>) -> Written {
        let buf = sc.buf();
        self.flush(buf);
        let out = &mut *self.out;
        if self.kind == ValueKind::Object {
            out.push(b'}');
            self.shape.object_depth += 1;
            self.shape.max_keys = self.shape.max_keys.max(self.members);
        } else {
            out.push(b']');
            self.shape.max_len = self.shape.max_len.max(self.members);
        }
        if !self.modified {
            out.truncate(self.out_start);
            out.extend_from_slice(&buf[self.in_start..sc.pos()]);
        }
        Written { shape: self.shape, members: self.members, modified: self.modified }
    }

    /// Adds the input bytes `start..end` (one member) to the run copied verbatim.
    pub(super) fn extend_run(&mut self, start: usize, end: usize) {
        self.members += 1;
        self.run = Some(match self.run {
            Some((s, _)) => (s, end),
            None => (start, end),
        });
    }

    /// Writes the pending run of untouched bytes.
    pub(super) fn flush(&mut self, buf: &[u8]) {
        if let Some((s, e)) = self.run.take() {
            self.separator();
            self.out.extend_from_slice(&buf[s..e]);
        }
    }

    /// Writes a separator if something precedes.
    fn separator(&mut self) {
        if self.written_any {
            self.out.push(b',');
        }
        self.written_any = true;
    }

    /// Writes `"key":value` (or just the value in an array) after a separator.
    pub(super) fn member(&mut self, key_raw: Option<&[u8]>, value: &[u8]) {
        self.separator();
        self.members += 1;
        if let Some(key) = key_raw {
            self.out.extend_from_slice(key);
            self.out.push(b':');
        }
        self.out.extend_from_slice(value);
    }

    /// The output, for a nested container written in place.
    pub(super) fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Where the next member's output starts.
    pub(super) fn mark(&self) -> Mark {
        Mark { out_len: self.out.len(), written_any: self.written_any }
    }

    /// Takes back the member written since `mark` (a container that kept nothing).
    pub(super) fn rewind(&mut self, mark: Mark) {
        self.out.truncate(mark.out_len);
        self.written_any = mark.written_any;
        self.members -= 1;
        self.modified = true;
    }
}
