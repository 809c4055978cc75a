//! Requests whose bodies are too large to hold in memory: a GET whose answer is read as a
//! stream and resumed with `Range` where the connection broke ([`Http::download`]), and a PUT
//! whose body is read from a file ([`Http::upload`]). They go through the same agents, proxies,
//! deadline, `-v` trace and retry rules as [`Http::send`]; only the bodies differ.
//!
//! A resumed GET carries `If-Match` with the first answer's `ETag`, so that a resource that
//! changed in between is refused by the service (412) instead of being spliced from two
//! versions; every resumed answer must be the 206 of exactly the missing bytes.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use ureq::SendBody;

use super::exchange::{Failure, classify, failed_line, head, run};
use super::retry::{self, Decision, Said, Tries};
use super::{Http, Reply, Request, Route, Tried};
use crate::error::{Error, Kind, Result};
use crate::text::seconds;

/// What an error answer's body may be: enough for any service's message.
const ERROR_BODY_CAP: u64 = 1 << 20;
/// The piece read from the network at a time.
const PIECE: usize = 256 << 10;

/// A request body read from a file: its first `len` bytes, read again for every attempt.
pub struct FileBody<'f> {
    pub file: &'f File,
    pub len: u64,
}

/// An answer whose body is still on the wire.
pub struct Stream {
    /// Status and headers (its body is empty).
    pub head: Reply,
    body: ureq::BodyReader<'static>,
}

/// What [`Http::open`] got: a success to read, or another answer, read whole.
pub enum Opened {
    Stream(Stream),
    /// Not a 2xx, or a retryable answer that outlasted the retries (`gave_up` set).
    Refused(Reply),
}

/// What takes a download's bytes, and checks each answer's head on the way.
pub trait Sink {
    /// The head of the first answer (`at` 0), or of a resumed one (`at` the bytes taken so far).
    fn head(&mut self, head: &Reply, at: u64) -> Result<()>;
    fn take(&mut self, bytes: &[u8]) -> Result<()>;
}

/// What a download came to.
pub enum Fetched {
    /// Every byte of the first answer's `Content-Length`, taken.
    Done { bytes: u64 },
    /// The service refused, at first (`after` 0) or on a resumption.
    Refused { reply: Reply, after: u64 },
}

impl Http {
    /// Sends a request, retrying what the service's rules allow until the deadline, and returns
    /// at the head of a 2xx answer, leaving its body to read; any other answer is read whole.
    pub fn open(&self, req: &Request, upload: Option<&FileBody>) -> Result<Opened> {
        let route = self.agent(req)?;
        self.retrying(
            req,
            |remaining| {
                Ok(match self.open_once(&route, req, upload, remaining)? {
                    Opened::Refused(reply) if req.service.retries(req.method, reply.status) => {
                        Tried::Again(reply)
                    }
                    opened => Tried::Done(opened),
                })
            },
            Opened::Refused,
        )
    }

    /// A PUT (or any request) whose body is `upload`, read from the file for each attempt; the
    /// answer is read whole.
    pub fn upload(&self, req: &Request, upload: &FileBody) -> Result<Reply> {
        match self.open(req, Some(upload))? {
            Opened::Refused(reply) => Ok(reply),
            Opened::Stream(stream) => {
                let mut reply = stream.head;
                stream
                    .body
                    .take(ERROR_BODY_CAP)
                    .read_to_end(&mut reply.body)
                    .map_err(|e| Error::failed(format!("{}: reading the answer: {e}", req.what)))?;
                Ok(reply)
            }
        }
    }

    /// GETs `req` into `sink`; where the connection breaks, asks for the rest (`Range: bytes=N-`,
    /// `If-Match` the first answer's `ETag`) with backoff, within the deadline. The length
    /// taken is checked against the first answer's `Content-Length`.
    pub fn download(&self, req: &Request, sink: &mut dyn Sink) -> Result<Fetched> {
        let mut stream = match self.open(req, None)? {
            Opened::Refused(reply) => return Ok(Fetched::Refused { reply, after: 0 }),
            Opened::Stream(stream) => stream,
        };
        let total = stream
            .head
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                Error::failed(format!(
                    "{}: the answer has no Content-Length, so its length cannot be checked",
                    req.what
                ))
            })?;
        let etag = stream.head.header("etag").map(str::to_string);
        sink.head(&stream.head, 0)?;
        let started = Instant::now();
        let mut buffer = vec![0u8; PIECE];
        let (mut got, mut failures, mut at_last_failure) = (0u64, 0u32, 0u64);
        loop {
            let broke = match pump(&mut stream, &mut buffer, sink, &mut got, total)? {
                None if got == total => break,
                None => format!("the connection closed after {got} of {total} bytes"),
                Some(why) => format!("the connection broke after {got} of {total} bytes ({why})"),
            };
            let Some(etag) = &etag else {
                return Err(Error::failed(format!(
                    "{}: {broke}, and the answer had no ETag to resume it safely",
                    req.what
                )));
            };
            failures = if got > at_last_failure {
                1
            } else {
                failures + 1
            };
            at_last_failure = got;
            let left = self.deadline.left();
            let said = Said::Transient { retry_after: None };
            let tries = Tries {
                attempt: failures,
                throttles: 0,
                longest_asked: Duration::ZERO,
                since_first: started.elapsed(),
                left,
            };
            let wait = match retry::decide(said, tries, retry::random_unit()) {
                Decision::Wait(wait) => wait,
                _ => {
                    return Err(Error::new(
                        Kind::GaveUp,
                        format!(
                            "{}: {broke}; the --timeout of {} s does not leave time to resume (raise it for a download this size)",
                            req.what,
                            self.deadline.total().as_secs()
                        ),
                    ));
                }
            };
            self.trace(&format!(
                "{}: {broke}; resuming from byte {got} {wait}",
                req.what
            ));
            std::thread::sleep(wait.total);
            let mut resume = Request {
                service: req.service,
                method: req.method,
                url: req.url.clone(),
                what: req.what.clone(),
                headers: req.headers.clone(),
                bearer: req.bearer,
                body: None,
            };
            resume.headers.push(("Range", format!("bytes={got}-")));
            resume.headers.push(("If-Match", etag.clone()));
            stream = match self.open(&resume, None)? {
                Opened::Refused(reply) => return Ok(Fetched::Refused { reply, after: got }),
                Opened::Stream(next) => next,
            };
            check_rest(&stream.head, got, total, &req.what)?;
            sink.head(&stream.head, got)?;
        }
        // Integer arithmetic: float formatting would add its code to the binary for one line.
        let elapsed = started.elapsed();
        let per_second = u128::from(total) * 1000 / elapsed.as_millis().max(1);
        self.trace(&format!(
            "{}: {total} bytes in {} ({} MB/s)",
            req.what,
            seconds(elapsed),
            per_second / 1_000_000
        ));
        Ok(Fetched::Done { bytes: total })
    }

    fn open_once(
        &self,
        route: &Route,
        req: &Request,
        upload: Option<&FileBody>,
        remaining: Duration,
    ) -> std::result::Result<Opened, Failure> {
        let started = Instant::now();
        let result = send(route, req, upload, remaining);
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(Opened::Stream(s)) => self.trace(&format!(
                "{} {} -> {} ({ms} ms, streaming {} bytes)",
                req.method,
                req.url,
                s.head.status,
                s.head.header("content-length").unwrap_or("?")
            )),
            Ok(Opened::Refused(r)) => self.trace(&format!(
                "{} {} -> {} ({ms} ms, {} bytes)",
                req.method,
                req.url,
                r.status,
                r.body.len()
            )),
            Err(e) => self.trace(&failed_line(req, ms, e)),
        }
        result
    }
}

/// One attempt: the request on the wire, the head read, and an error answer's body read whole.
fn send(
    route: &Route,
    req: &Request,
    upload: Option<&FileBody>,
    timeout: Duration,
) -> std::result::Result<Opened, Failure> {
    let builder = head(req);
    let agent = &route.agent;
    let sent = match upload {
        Some(upload) => {
            let mut region = Region {
                file: upload.file,
                at: 0,
                end: upload.len,
            };
            let built = builder
                .header("Content-Length", upload.len.to_string())
                .body(SendBody::from_reader(&mut region));
            run(agent, built, req, timeout)?
        }
        None => run(agent, builder.body(()), req, timeout)?,
    };
    let response = sent.map_err(|e| classify(req, route.via.as_ref(), e))?;
    let head = Reply {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
        gave_up: None,
    };
    let body = response.into_body();
    if (200..300).contains(&head.status) {
        return Ok(Opened::Stream(Stream {
            head,
            body: body.into_reader(),
        }));
    }
    let mut reply = head;
    reply.body = body
        .into_with_config()
        .limit(ERROR_BODY_CAP)
        .read_to_vec()
        .map_err(|e| classify(req, route.via.as_ref(), e))?;
    Ok(Opened::Refused(reply))
}

/// Reads the stream into the sink until it ends (`None`) or breaks (why); the sink's own
/// errors end the download.
fn pump(
    stream: &mut Stream,
    buffer: &mut [u8],
    sink: &mut dyn Sink,
    got: &mut u64,
    total: u64,
) -> Result<Option<String>> {
    loop {
        match stream.body.read(buffer) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                if *got + n as u64 > total {
                    return Err(Error::failed(format!(
                        "the answer is longer than its Content-Length of {total} bytes"
                    )));
                }
                sink.take(&buffer[..n])?;
                *got += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Ok(Some(e.to_string())),
        }
    }
}

/// A resumed answer must be the 206 of exactly the bytes from `from` to the end of `total`.
fn check_rest(head: &Reply, from: u64, total: u64, what: &str) -> Result<()> {
    let expected = format!("bytes {from}-{}/{total}", total - 1);
    let range = head.header("content-range").unwrap_or_default().trim();
    if head.status == 206 && range == expected {
        return Ok(());
    }
    Err(Error::failed(format!(
        "{what}: asked for the rest from byte {from}, got {} with Content-Range '{}' instead of \
         '{expected}'; nothing was spliced",
        head.status,
        crate::text::clean(range)
    )))
}

/// The first `end` bytes of a file, read from `at`, whatever else reads the file.
struct Region<'f> {
    file: &'f File,
    at: u64,
    end: u64,
}

impl Read for Region<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end - self.at).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was sent",
            ));
        }
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_answer_must_be_the_206_of_exactly_the_rest() {
        let mut head = Reply::new(206, "");
        head.headers
            .push(("Content-Range".into(), "bytes 100-999/1000".into()));
        assert!(check_rest(&head, 100, 1000, "x").is_ok());
        assert!(check_rest(&head, 101, 1000, "x").is_err());
        assert!(check_rest(&head, 100, 1001, "x").is_err());
        head.status = 200;
        assert!(check_rest(&head, 100, 1000, "x").is_err());
    }

    #[test]
    fn a_region_reads_the_first_bytes_and_refuses_a_shrunk_file() {
        let path = std::env::temp_dir().join(format!("armi-region-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        let mut got = String::new();
        Region {
            file: &file,
            at: 0,
            end: 4,
        }
        .read_to_string(&mut got)
        .unwrap();
        assert_eq!(got, "0123");
        let mut long = Region {
            file: &file,
            at: 0,
            end: 20,
        };
        let e = long.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(&path).ok();
    }
}
