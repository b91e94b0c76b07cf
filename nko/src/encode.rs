//! The canonical binary encoding every NKO hash and signature is computed over (SPEC.md,
//! "Canonical encoding").
//!
//! Fields are written in a fixed order with no names and no padding:
//! - `u8` as one byte, `u64` as 8 bytes big-endian;
//! - byte strings and UTF-8 strings as a `u32` big-endian length followed by the bytes;
//! - fixed 32- and 64-byte values (digests, keys, signatures) as their raw bytes;
//! - optional values as a tag byte `0` (absent) or `1` followed by the value.
//!
//! One value has exactly one encoding, so equal values give equal bytes and equal hashes.

/// Why canonical bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A tag byte or enum value is not one the encoding defines.
    #[error("invalid {what} at byte {at}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// Byte offset of the bad value.
        at: usize,
    },
    /// Bytes were left after the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// Appends canonical fields to a byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer that starts with the domain tag `tag` (as a length-prefixed string), so that bytes
    /// meant for one purpose never verify for another.
    pub fn tagged(tag: &str) -> Writer {
        let mut w = Writer::default();
        w.str(tag);
        w
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a `u64`, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a `u32` length and the bytes.
    ///
    /// # Panics
    /// Never for inputs under 4 GiB; longer inputs are not representable and are truncated to
    /// `u32::MAX` in the length, which decoding then rejects (callers bound their inputs).
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    /// Appends a UTF-8 string as length-prefixed bytes.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// Appends fixed-size raw bytes (no length).
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Appends `0`, or `1` and the 32 bytes.
    pub fn opt32(&mut self, v: &Option<[u8; 32]>) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(d) => self.u8(1).raw(d),
        }
    }

    /// The bytes written so far.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// Reads canonical fields back, in the order they were written.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    /// A reader over `buf` that first checks the domain tag `tag`.
    ///
    /// # Errors
    /// `Invalid` when the tag differs; `Truncated` when `buf` is too short.
    pub fn tagged(buf: &'a [u8], tag: &'static str) -> Result<Reader<'a>, DecodeError> {
        let mut r = Reader::new(buf);
        let at = r.at;
        if r.str()? != tag {
            return Err(DecodeError::Invalid { what: "tag", at });
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated(self.at))?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// The current byte offset.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    /// Reads length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        self.take(u32::from_be_bytes(b) as usize)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.at;
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid { what: "utf-8", at })
    }

    /// Reads `N` raw bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }

    /// Reads an optional 32-byte value (tag `0` or `1`).
    pub fn opt32(&mut self) -> Result<Option<[u8; 32]>, DecodeError> {
        let at = self.at;
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.array()?)),
            _ => Err(DecodeError::Invalid {
                what: "option tag",
                at,
            }),
        }
    }

    /// Checks that every byte was read.
    ///
    /// # Errors
    /// `Trailing` with the number of unread bytes.
    pub fn end(self) -> Result<(), DecodeError> {
        match self.buf.len() - self.at {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses lower- or upper-case hex into exactly `N` bytes; `None` for any other input.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(s[2 * i])? << 4 | digit(s[2 * i + 1])?;
    }
    Some(out)
}

/// Parses hex of any even length into bytes; `None` for odd length or a non-hex digit.
pub fn unhex_vec(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_should_round_trip_every_field_kind() {
        let mut w = Writer::tagged("t");
        w.u8(7)
            .u64(42)
            .str("héllo")
            .bytes(b"")
            .opt32(&None)
            .opt32(&Some([9; 32]));
        w.raw(&[1, 2]);
        let bytes = w.finish();
        let mut r = Reader::tagged(&bytes, "t").unwrap();
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u64().unwrap(), 42);
        assert_eq!(r.str().unwrap(), "héllo");
        assert_eq!(r.bytes().unwrap(), b"");
        assert_eq!(r.opt32().unwrap(), None);
        assert_eq!(r.opt32().unwrap(), Some([9; 32]));
        assert_eq!(r.array::<2>().unwrap(), [1, 2]);
        r.end().unwrap();
    }

    #[test]
    fn reader_should_reject_truncation_bad_tags_and_trailing_bytes() {
        let bytes = Writer::tagged("t").u64(1).as_bytes().to_vec();
        assert!(matches!(
            Reader::tagged(&bytes, "u"),
            Err(DecodeError::Invalid { .. })
        ));
        let mut r = Reader::tagged(&bytes[..bytes.len() - 1], "t").unwrap();
        assert_eq!(r.u64(), Err(DecodeError::Truncated(5)));
        let r = Reader::tagged(&bytes, "t").unwrap();
        assert_eq!(r.end(), Err(DecodeError::Trailing(8)));
        let mut r = Reader::new(&[2]);
        assert!(matches!(r.opt32(), Err(DecodeError::Invalid { .. })));
        let huge = [0xff, 0xff, 0xff, 0xff, 0];
        assert!(matches!(
            Reader::new(&huge).bytes(),
            Err(DecodeError::Truncated(4))
        ));
    }

    #[test]
    fn hex_should_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex::<3>("00AB10"), Some([0, 0xab, 0x10]));
        assert_eq!(unhex::<3>("00ab1"), None);
        assert_eq!(unhex::<1>("zz"), None);
        assert_eq!(unhex_vec("0a0b"), Some(vec![10, 11]));
        assert_eq!(unhex_vec("0a0"), None);
    }
}
