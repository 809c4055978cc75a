//! `armi blob get URL` and `armi blob put FILE URL`: a Storage blob downloaded (streamed,
//! resumed where the connection breaks, checked) or uploaded (checked by the service), as the
//! managed identity.

use std::fs::File;
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::PathBuf;

use super::secret::url_cloud;
use super::{Command, Ctx, Job, to_file};
use crate::cli::{Args, Outputs, flags};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::files::{self, Links, Target};
use crate::storage::{self, BlobUrl, MAX_PUT_BLOB, Receiver};
use crate::text::echo;
use crate::token::Token;

pub static COMMAND: Command = Command {
    name: "blob",
    args: "get URL | put FILE URL",
    summary: "download or upload a Storage blob, verified",
    about: "\
get streams the blob to stdout, or with --file to PATH (atomically: PATH gets
the whole blob or stays as it was). Memory stays small whatever the size.
The length is checked against Content-Length and the bytes against the
blob's Content-MD5 when it has one (--skip-md5 for one that is stale); where
the connection breaks, the download resumes from the bytes it has, with
If-Match on the blob's ETag, so that a blob changed meanwhile is refused,
never spliced.

put uploads FILE as a block blob in one Put Blob (up to 5,000 MiB) with its
Content-MD5, which the service checks, and prints the new blob's ETag.

URL is https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB (or the other
clouds' blob hosts). The token is for https://storage.azure.com/ and goes to
that host only. The identity needs Storage Blob Data Reader (get) or
Storage Blob Data Contributor (put) on the account or the container.
--timeout covers the whole transfer: raise it for large blobs.",
    examples: &[
        "armi blob get https://st1.blob.core.windows.net/deploy/app.tgz --file app.tgz",
        "armi blob get https://st1.blob.core.windows.net/deploy/setup.sh | sh",
        "armi blob put db.dump https://st1.blob.core.windows.net/backups/db.dump",
    ],
    flags: &[
        &[&flags::BLOB_ENDPOINT, &flags::WAIT_ACCESS, &flags::SKIP_MD5],
        flags::TO_FILE,
        flags::IDENTITY,
    ],
    not_here: &[
        (&flags::SUBSCRIPTION, "a blob is named by its URL"),
        (&flags::RESOURCE_GROUP, "a blob is named by its URL"),
        (&flags::API_VERSION, "armi sends x-ms-version 2025-11-05"),
    ],
    outputs: Outputs::DATA,
    parse,
};

enum Blob {
    Get {
        url: BlobUrl,
        file: Option<Target>,
        check_md5: bool,
    },
    Put {
        path: PathBuf,
        url: BlobUrl,
    },
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    let action = args.positional("get or put")?;
    let endpoint = args.settings.blob_endpoint.clone();
    let job = match action.as_str() {
        "get" => {
            let url = BlobUrl::parse(&args.positional("URL")?, endpoint.as_ref())?;
            let file = to_file::parse(args)?;
            if args.value(&flags::OUTPUT).is_some() || args.settings.query.is_some() {
                return Err(Error::usage(
                    "armi blob get writes the blob's bytes: -o and -q do not apply",
                ));
            }
            Blob::Get {
                url,
                file,
                check_md5: !args.switch(&flags::SKIP_MD5),
            }
        }
        "put" => {
            let path = PathBuf::from(args.positional("FILE")?);
            let url = BlobUrl::parse(&args.positional("URL")?, endpoint.as_ref())?;
            if args.value(&flags::FILE).is_some() || args.value(&flags::MODE).is_some() {
                return Err(Error::usage(
                    "--file and --mode go with blob get; put reads FILE",
                ));
            }
            if args.switch(&flags::SKIP_MD5) {
                return Err(Error::usage(
                    "--skip-md5 goes with blob get; put always sends the file's MD5 for the \
                     service to check",
                ));
            }
            upload_size(&path)?;
            Blob::Put { path, url }
        }
        other => {
            return Err(
                Error::usage(format!("armi blob: '{}' is not get or put", echo(other)))
                    .with_hint("armi blob get URL [--file PATH], armi blob put FILE URL"),
            );
        }
    };
    Ok(Box::new(job))
}

/// FILE for an upload: a regular file one Put Blob takes; checked before anything is sent.
fn upload_size(path: &std::path::Path) -> Result<(File, u64)> {
    let shown = echo(&path.to_string_lossy());
    let (file, size) = files::open_regular(path, Links::Follow)
        .map_err(|why| Error::usage(format!("FILE '{shown}': {}", why.describe(MAX_PUT_BLOB))))?;
    if size > MAX_PUT_BLOB {
        return Err(Error::usage(format!(
            "FILE '{shown}' is {size} bytes, over the 5,000 MiB one Put Blob takes; armi does not \
             split uploads into blocks"
        ))
        .with_hint("split it (split -b 4G) or use azcopy for files this size"));
    }
    Ok((file, size))
}

impl Job for Blob {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        match self {
            Blob::Get {
                url,
                file,
                check_md5,
            } => get(ctx, url, file.as_ref(), *check_md5),
            Blob::Put { path, url } => put(ctx, path, url),
        }
    }
}

/// The cloud whose identity token is asked for: the URL's (which `--cloud` must agree with),
/// or with `--blob-endpoint`, `--cloud`'s or the public one (the audience is the same in all).
fn cloud_of(ctx: &Ctx, url: &BlobUrl) -> Result<Cloud> {
    match url.cloud {
        Some(cloud) => url_cloud(ctx, cloud),
        None => Ok(ctx.settings.cloud.unwrap_or_else(Cloud::public)),
    }
}

fn get(ctx: &Ctx, url: &BlobUrl, file: Option<&Target>, check_md5: bool) -> Result<()> {
    let cloud = cloud_of(ctx, url)?;
    let what = format!("GET blob '{}'", url.shown());
    // stdout is written as the bytes arrive, unbuffered (each piece is large already).
    // SAFETY: descriptor 1 stays open for the life of the process, and ManuallyDrop never
    // closes it.
    let mut stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let mut pending = match file {
        Some(target) => Some(
            target
                .begin()
                .map_err(|e| to_file::cannot_write(target, &e))?,
        ),
        None => None,
    };
    let out: &mut dyn Write = match &mut pending {
        Some(pending) => pending,
        None => &mut *stdout,
    };
    let mut receiver = Receiver::new(out, check_md5);
    let got = ctx.with_token(storage::AUDIENCE, &cloud, |token| {
        let session = storage::session(ctx.http, url, token.access_token.expose());
        storage::get(&session, url, &mut receiver).map_err(|e| name_the_identity(e, token))
    });
    match got {
        Err(_) if receiver.closed => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => receiver.finish(&what)?,
    }
    match (pending, file) {
        (Some(pending), Some(target)) => pending
            .commit()
            .map_err(|e| to_file::cannot_write(target, &e)),
        _ => Ok(()),
    }
}

fn put(ctx: &Ctx, path: &std::path::Path, url: &BlobUrl) -> Result<()> {
    let cloud = cloud_of(ctx, url)?;
    let (file, size) = upload_size(path)?;
    let shown = echo(&path.to_string_lossy());
    let md5 = storage::file_md5(&file, size)
        .map_err(|e| Error::failed(format!("FILE '{shown}': cannot read it: {e}")))?;
    let done = ctx.with_token(storage::AUDIENCE, &cloud, |token| {
        let session = storage::session(ctx.http, url, token.access_token.expose());
        storage::put(&session, url, &file, size, &md5).map_err(|e| name_the_identity(e, token))
    })?;
    ctx.print_data(done)
}

/// Storage's refusal does not say who was refused: the hint's command gets the identity's
/// object id from the token's claims.
fn name_the_identity(mut e: Error, token: &Token) -> Error {
    let oid = crate::claims::Claims::decode(token.access_token.expose())
        .ok()
        .and_then(|claims| claims.object_id());
    if let (Some(hint), Some(oid)) = (e.hint.as_mut(), oid) {
        *hint = hint.replace("OBJECTID", &crate::text::shell_quote(&oid));
    }
    e
}
