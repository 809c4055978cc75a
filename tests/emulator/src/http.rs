//! Just enough HTTP/1.1 for the emulated services: read one request (with a `Content-Length` or
//! chunked body) off a buffered stream, and serialise a response.

use std::io::{self, BufRead, Read};

use crate::encoding::query_decode;

/// A request head is refused past this size, like real front ends do (they answer 431 or 400).
const MAX_HEAD: u64 = 64 * 1024;
/// armi never sends large bodies; this only keeps a broken client from exhausting memory.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One parsed request, exactly as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent: `path?query` (or `host:port` for CONNECT).
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The bytes are not HTTP: answer 400 and close.
    Malformed(&'static str),
    /// The connection broke (or the emulator is stopping): just close.
    Closed,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

/// Reads the next request; `Ok(None)` when the peer closed the connection between requests.
pub fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, ReadError> {
    let Some(lines) = read_head(reader)? else {
        return Ok(None);
    };
    let mut lines = lines.into_iter();
    let request_line = lines.next().ok_or(ReadError::Malformed("empty head"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("bad request line"));
    }
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or(ReadError::Malformed("bad header"))?;
            Ok((name.trim().to_string(), value.trim().to_string()))
        })
        .collect::<Result<Vec<_>, ReadError>>()?;
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
        body: Vec::new(),
    };
    request.body = read_body(reader, &request)?;
    Ok(Some(request))
}

/// The head's lines without line ends, or `None` on a clean EOF before the first byte.
fn read_head(reader: &mut impl BufRead) -> Result<Option<Vec<String>>, ReadError> {
    // A TLS handshake on a plain port (0x16 starts a handshake record) holds no line end to
    // wait for: web servers answer it with 400 at once, and so does this one.
    if reader.fill_buf()?.first() == Some(&0x16) {
        return Err(ReadError::Malformed("a TLS handshake on a plain HTTP port"));
    }
    let mut lines = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let mut raw = Vec::new();
        let n = reader.by_ref().take(budget).read_until(b'\n', &mut raw)?;
        budget -= n as u64;
        if n == 0 && lines.is_empty() && raw.is_empty() {
            return Ok(None);
        }
        if !raw.ends_with(b"\n") {
            return Err(ReadError::Malformed("head too large or cut short"));
        }
        let line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        // Tolerate stray empty lines before a request (RFC 9112 § 2.2).
        if line.is_empty() && lines.is_empty() {
            continue;
        }
        if line.is_empty() {
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn read_body(reader: &mut impl BufRead, request: &Request) -> Result<Vec<u8>, ReadError> {
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let Some(length) = request.header("content-length") else {
        return Ok(Vec::new());
    };
    let length: usize = length
        .parse()
        .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
    if length > MAX_BODY {
        return Err(ReadError::Malformed("body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.by_ref().take(1024).read_line(&mut size_line)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Malformed("body too large"));
        }
        if size == 0 {
            // Skip trailers up to the empty line.
            loop {
                let mut trailer = String::new();
                reader.by_ref().take(MAX_HEAD).read_line(&mut trailer)?;
                if trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    pub fn path(&self) -> &str {
        split_target(&self.target).0
    }

    /// Every query pair, percent-decoded, in the order sent.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(split_target(&self.target).1)
    }

    /// The first value of `key`, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        query_value(&self.target, key)
    }

    /// The audience a token request names in its query, unless it is empty.
    pub fn resource(&self) -> Option<String> {
        self.query("resource").filter(|r| !r.is_empty())
    }

    /// HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes unless told otherwise.
    pub fn wants_close(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match connection.as_deref() {
            Some(c) if c.contains("close") => true,
            Some(c) if c.contains("keep-alive") => false,
            _ => self.version == "HTTP/1.0",
        }
    }
}

/// Case-insensitive header lookup, first occurrence.
pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `(path, query)` of a request target; the query is "" when absent.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (query_decode(key), query_decode(value))
        })
        .collect()
}

pub fn query_value(target: &str, key: &str) -> Option<String> {
    query_pairs(split_target(target).1)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A response to serialise. `Content-Length` is computed when writing, never stored here.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A HEAD answer: announce the body's length, send no body.
    pub omit_body: bool,
    /// Close the connection after this response.
    pub close: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            omit_body: false,
            close: false,
        }
    }

    /// Compact JSON, as both services send it.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        let mut response = Response::new(status);
        response.body = body.to_string().into_bytes();
        response
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `Retry-After` when a status fault asks for one.
    pub fn retry_after(self, seconds: Option<&str>) -> Self {
        match seconds {
            Some(seconds) => self.header("Retry-After", seconds),
            None => self,
        }
    }

    pub fn has_header(&self, name: &str) -> bool {
        header_in(&self.headers, name).is_some()
    }

    /// Adds the header unless the response already has one of that name.
    pub fn default_header(&mut self, name: &str, value: &str) {
        if !self.has_header(name) {
            self.headers.push((name.to_string(), value.to_string()));
        }
    }

    /// Status line and headers, announcing `content_length` body bytes.
    pub fn head_bytes(&self, content_length: usize) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {content_length}\r\n"));
        if self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    /// The whole response as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.head_bytes(self.body.len());
        if !self.omit_body {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
