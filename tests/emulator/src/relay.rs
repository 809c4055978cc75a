//! HTTP/1.1 messages passed from one stream to another without holding their bodies: read a
//! head, learn how its body is framed (RFC 9112 § 6.3), copy the body in pieces, all of it or
//! the first bytes of it. The forwarding proxy is built on this; the emulated services read
//! whole requests instead (`http`).

use std::io::{self, BufRead, Read, Write};

use crate::http::header_in;

/// A message head is refused past this size.
const MAX_HEAD: u64 = 64 * 1024;
/// Bodies move in pieces of this size.
const PIECE: usize = 64 * 1024;

/// A request or response head, parsed, with its bytes as received to pass on verbatim.
#[derive(Clone, Debug)]
pub struct Head {
    /// The request line or the status line.
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
}

/// How the body after a head ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`, copied with its framing.
    Chunked,
    /// Until the connection closes (a response without length or chunking).
    UntilClose,
}

/// What a copy moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    /// Body bytes as on the wire (with chunk framing, for chunked bodies).
    pub bytes: u64,
    /// Whether the body ended; `false` when the limit stopped the copy first.
    pub complete: bool,
}

/// Reads the next head; `Ok(None)` on a clean end of stream before its first byte.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let budget = MAX_HEAD.saturating_sub(raw.len() as u64);
        let n = reader.by_ref().take(budget).read_until(b'\n', &mut line)?;
        if n == 0 && raw.is_empty() {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "head too large or cut short",
            ));
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if text.is_empty() {
            if lines.is_empty() {
                // Stray empty lines before a message (RFC 9112 § 2.2).
                raw.clear();
                continue;
            }
            break;
        }
        lines.push(text);
    }
    let mut lines = lines.into_iter();
    let start = lines.next().unwrap_or_default();
    let headers = lines
        .filter_map(|line| {
            line.split_once(':')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(Some(Head {
        start,
        headers,
        raw,
    }))
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// A request's method.
    pub fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or_default()
    }

    /// A request's target (`/path?query`).
    pub fn target(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or_default()
    }

    /// A response's status code (0 if the line is not a status line).
    pub fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    }

    fn length(&self) -> io::Result<Option<u64>> {
        self.header("content-length")
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))
            })
            .transpose()
    }

    /// How a request's body is framed: chunked, a length, or none.
    pub fn request_framing(&self) -> io::Result<Framing> {
        if self.chunked() {
            return Ok(Framing::Chunked);
        }
        Ok(match self.length()? {
            Some(0) | None => Framing::Empty,
            Some(n) => Framing::Length(n),
        })
    }

    /// How a response's body is framed, given the request's method.
    pub fn response_framing(&self, request_method: &str) -> io::Result<Framing> {
        let status = self.status();
        if request_method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304
        {
            return Ok(Framing::Empty);
        }
        if self.chunked() {
            return Ok(Framing::Chunked);
        }
        Ok(match self.length()? {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        })
    }

    /// Whether either side asked to close the connection after this message.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|c| c.to_ascii_lowercase().contains("close"))
            || self.start.starts_with("HTTP/1.0")
    }
}

/// Copies the body framed by `framing` from `from` to `to`, at most `limit` bytes of it.
pub fn copy_body(
    from: &mut impl BufRead,
    to: &mut impl Write,
    framing: Framing,
    limit: Option<u64>,
) -> io::Result<Copied> {
    let mut copier = Copier {
        to,
        bytes: 0,
        limit: limit.unwrap_or(u64::MAX),
    };
    let complete = match framing {
        Framing::Empty => true,
        Framing::Length(n) => copier.exactly(from, n)?,
        Framing::UntilClose => copier.until_end(from)?,
        Framing::Chunked => copier.chunks(from)?,
    };
    copier.to.flush()?;
    Ok(Copied {
        bytes: copier.bytes,
        complete,
    })
}

struct Copier<'a, W: Write> {
    to: &'a mut W,
    bytes: u64,
    limit: u64,
}

impl<W: Write> Copier<'_, W> {
    /// Passes `bytes` on unless the limit falls inside them; `false` if it did (the part
    /// before the limit is passed on).
    fn pass(&mut self, bytes: &[u8]) -> io::Result<bool> {
        let room = self.limit - self.bytes;
        if (bytes.len() as u64) > room {
            self.to.write_all(&bytes[..room as usize])?;
            self.bytes = self.limit;
            return Ok(false);
        }
        self.to.write_all(bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(true)
    }

    fn exactly(&mut self, from: &mut impl BufRead, mut left: u64) -> io::Result<bool> {
        let mut piece = vec![0u8; PIECE];
        while left > 0 {
            let want = left.min(PIECE as u64) as usize;
            let n = from.read(&mut piece[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if !self.pass(&piece[..n])? {
                return Ok(false);
            }
            left -= n as u64;
        }
        Ok(true)
    }

    fn until_end(&mut self, from: &mut impl BufRead) -> io::Result<bool> {
        let mut piece = vec![0u8; PIECE];
        loop {
            let n = from.read(&mut piece)?;
            if n == 0 {
                return Ok(true);
            }
            if !self.pass(&piece[..n])? {
                return Ok(false);
            }
        }
    }

    fn chunks(&mut self, from: &mut impl BufRead) -> io::Result<bool> {
        loop {
            let line = read_line(from)?;
            let size_hex = String::from_utf8_lossy(&line);
            let size_hex = size_hex.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if !self.pass(&line)? {
                return Ok(false);
            }
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let trailer = read_line(from)?;
                    if !self.pass(&trailer)? {
                        return Ok(false);
                    }
                    if trailer == b"\r\n" || trailer == b"\n" {
                        return Ok(true);
                    }
                }
            }
            if !self.exactly(from, size)? {
                return Ok(false);
            }
            let end = read_line(from)?;
            if !self.pass(&end)? {
                return Ok(false);
            }
        }
    }
}

fn read_line(from: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    from.by_ref().take(4096).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        read_head(&mut text.as_bytes())
            .expect("io")
            .expect("a head")
    }

    #[test]
    fn heads_keep_their_bytes_and_know_their_framing() {
        let text = "\r\nGET /c/b HTTP/1.1\r\nHost: h\r\nRange: bytes=5-\r\n\r\nrest";
        let mut reader = text.as_bytes();
        let request = read_head(&mut reader).expect("io").expect("a head");
        assert_eq!(request.method(), "GET");
        assert_eq!(request.target(), "/c/b");
        assert_eq!(request.header("range"), Some("bytes=5-"));
        assert_eq!(
            request.raw,
            b"GET /c/b HTTP/1.1\r\nHost: h\r\nRange: bytes=5-\r\n\r\n"
        );
        assert_eq!(reader, b"rest");
        assert_eq!(request.request_framing().expect("framing"), Framing::Empty);
        let response = head("HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(response.status(), 206);
        assert_eq!(
            response.response_framing("GET").expect("f"),
            Framing::Length(10)
        );
        assert_eq!(
            response.response_framing("HEAD").expect("f"),
            Framing::Empty
        );
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(
            chunked.response_framing("GET").expect("f"),
            Framing::Chunked
        );
        let open = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            open.response_framing("GET").expect("f"),
            Framing::UntilClose
        );
        assert!(read_head(&mut &b""[..]).expect("io").is_none());
        assert!(read_head(&mut &b"GET / HTTP/1.1\r\nHost"[..]).is_err());
    }

    #[test]
    fn bodies_copy_whole_or_up_to_the_limit() {
        let mut out = Vec::new();
        let copied = copy_body(
            &mut &b"0123456789tail"[..],
            &mut out,
            Framing::Length(10),
            None,
        )
        .expect("copy");
        assert_eq!(
            (copied.bytes, copied.complete, out.as_slice()),
            (10, true, &b"0123456789"[..])
        );
        let mut out = Vec::new();
        let copied = copy_body(
            &mut &b"0123456789"[..],
            &mut out,
            Framing::Length(10),
            Some(4),
        )
        .expect("copy");
        assert_eq!(
            (copied.bytes, copied.complete, out.as_slice()),
            (4, false, &b"0123"[..])
        );
        let chunked = b"5\r\nhello\r\n0\r\n\r\nnext";
        let mut out = Vec::new();
        let copied = copy_body(&mut &chunked[..], &mut out, Framing::Chunked, None).expect("copy");
        assert!(copied.complete);
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
        let mut short = &b"0123"[..];
        assert!(copy_body(&mut short, &mut Vec::new(), Framing::Length(10), None).is_err());
    }
}
