//! The Azure Arc agent (himds) on an Arc-enabled server: IMDS's token endpoint behind a
//! challenge. A request without `Authorization` gets 401 and `WWW-Authenticate: Basic
//! realm=<key file>`, a fresh key file written for it; the same request with `Authorization:
//! Basic <file contents>` gets the token (protocol.md §5.1, ARC-DOC, MSAL's ArcTestCase).
//! A current agent (`Arc::user_assigned`) chooses the identity a selector names and echoes the
//! selector in its answer (MSAL Go 1.9.0 and azure-identity 1.26.0 check that echo); an older
//! one ignores selectors and answers as the system identity, without an echo. `Scenario::arc`
//! decides how the challenge misbehaves.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::encoding::{epoch_now, http_date};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::identities;
use crate::ids::{random_guid, random_hex_upper};
use crate::record::Service;
use crate::scenario::{ArcRealm, Route};
use crate::server::ConnInfo;
use crate::state::Shared;

const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// The api-versions the agent names when it refuses one (quoted in rmbolger/Posh-ACME#562).
const VERSIONS: [&str; 4] = ["2021-02-01", "2020-06-01", "2019-11-01", "2019-08-15"];
/// A key file's secret: 32 random bytes as hex, fit for a header as it is.
const SECRET_BYTES: usize = 32;
/// One byte more than clients may read (MSAL: "Local key file shall not be larger than 4KB").
const OVERSIZED_BYTES: usize = 4097;

/// Where the agent writes key files.
#[derive(Clone, Debug)]
pub struct KeyDirs {
    /// The stand-in for `/var/opt/azcmagent/tokens`.
    pub keys: PathBuf,
    /// Another directory, for realms that lead out of the key directory.
    pub elsewhere: PathBuf,
}

impl KeyDirs {
    /// Both directories under the emulator's `dir`, private to its user as the real one is
    /// to root and the himds group.
    pub fn create(dir: &Path) -> io::Result<KeyDirs> {
        use std::os::unix::fs::DirBuilderExt;
        let dirs = KeyDirs {
            keys: dir.join("azcmagent-tokens"),
            elsewhere: dir.join("elsewhere"),
        };
        for path in [&dirs.keys, &dirs.elsewhere] {
            std::fs::DirBuilder::new().mode(0o700).create(path)?;
        }
        Ok(dirs)
    }
}

pub struct ArcAgent {
    shared: Arc<Shared>,
    realm: ArcRealm,
    user_assigned: bool,
    dirs: KeyDirs,
    /// Every secret a challenge handed out; any of them opens the token endpoint.
    secrets: Mutex<Vec<String>>,
}

/// An agent error: IMDS's `{"error","error_description"}`.
pub struct Failure {
    status: u16,
    code: &'static str,
    text: String,
}

fn fail(status: u16, code: &'static str, text: &str) -> Failure {
    Failure {
        status,
        code,
        text: text.into(),
    }
}

impl ArcAgent {
    pub fn new(shared: Arc<Shared>, realm: ArcRealm, user_assigned: bool, dirs: KeyDirs) -> Self {
        ArcAgent {
            shared,
            realm,
            user_assigned,
            dirs,
            secrets: Mutex::new(Vec::new()),
        }
    }

    /// Whether the request carries `Basic <secret>` with a secret a challenge handed out.
    fn authorized(&self, request: &Request) -> bool {
        let Some((scheme, secret)) = request
            .header("authorization")
            .and_then(|h| h.split_once(' '))
        else {
            return false;
        };
        scheme.eq_ignore_ascii_case("basic") && self.lock().iter().any(|s| s == secret.trim())
    }

    fn token(&self, request: &Request) -> Result<Response, Failure> {
        let scenario = &self.shared.scenario;
        let resource = request.resource().ok_or_else(|| {
            fail(
                400,
                "invalid_request",
                "Required audience parameter not specified",
            )
        })?;
        let selected = self.selected(request);
        let identity = match &selected {
            // A current agent honours the selector and echoes it.
            Some((selector, value)) => identities::find(scenario, selector_of(selector), value)
                .ok_or_else(|| {
                    fail(
                        404,
                        "identity_not_found",
                        "Identity not found: error acquiring access token: requested identity was not found",
                    )
                })?,
            // Legacy agents ignore client_id, object_id and msi_res_id.
            None => identities::system(scenario)
                .ok_or_else(|| fail(400, "invalid_request", "Identity not found"))?,
        };
        let minted = self.shared.tokens.mint(scenario, &identity, &resource);
        // IMDS's fields, every value a string; the honoured selector echoed.
        let mut body = Map::new();
        if let Some((selector, value)) = selected {
            body.insert(selector.into(), value.into());
        }
        body.insert("access_token".into(), minted.access_token.into());
        body.insert("expires_in".into(), minted.expires_in.to_string().into());
        body.insert("expires_on".into(), minted.expires_on.to_string().into());
        body.insert(
            "ext_expires_in".into(),
            minted.ext_expires_in.to_string().into(),
        );
        body.insert("not_before".into(), minted.not_before.to_string().into());
        body.insert("resource".into(), resource.into());
        body.insert("token_type".into(), "Bearer".into());
        Ok(Response::json(200, &Value::Object(body)))
    }

    /// The selector a current agent honours (`None` from a legacy agent, which ignores them).
    fn selected(&self, request: &Request) -> Option<(&'static str, String)> {
        if !self.user_assigned {
            return None;
        }
        ["client_id", "object_id", "msi_res_id"]
            .into_iter()
            .find_map(|name| request.query(name).map(|v| (name, v)))
    }

    /// 401 with the realm the scenario calls for, after writing the file it names. The header
    /// name is spelled as Go's net/http canonicalises it, as ARC-DOC's `grep` shows.
    fn challenge(&self) -> Response {
        let unauthorized = Response::new(401);
        let scheme = match self.realm {
            ArcRealm::Missing => return unauthorized,
            ArcRealm::NotBasic => "Bearer",
            _ => "Basic",
        };
        match self.write_key() {
            Ok(path) => unauthorized.header(
                "Www-Authenticate",
                &format!("{scheme} realm={}", path.display()),
            ),
            // A broken temp dir is the test environment's fault; say so instead of lying.
            Err(e) => Response::json(
                500,
                &json!({"error": "server_error", "error_description": e.to_string()}),
            ),
        }
    }

    /// Writes the key file of one challenge and remembers its secret; the path the realm names.
    fn write_key(&self) -> io::Result<PathBuf> {
        let name = random_guid();
        let (keys, elsewhere) = (&self.dirs.keys, &self.dirs.elsewhere);
        let secret = match self.realm {
            ArcRealm::Oversized => random_text(OVERSIZED_BYTES),
            _ => random_hex_upper(SECRET_BYTES).to_lowercase(),
        };
        let realm = match self.realm {
            ArcRealm::OutsideDir => elsewhere.join(format!("{name}.key")),
            ArcRealm::WrongExtension => keys.join(format!("{name}.txt")),
            ArcRealm::Symlink => {
                let target = elsewhere.join(format!("{name}.secret"));
                write_private(&target, &secret)?;
                let link = keys.join(format!("{name}.key"));
                std::os::unix::fs::symlink(&target, &link)?;
                self.lock().push(secret);
                return Ok(link);
            }
            _ => keys.join(format!("{name}.key")),
        };
        write_private(&realm, &secret)?;
        self.lock().push(secret);
        Ok(realm)
    }

    // A poisoned lock still holds whole secrets.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn selector_of(name: &str) -> identities::Selector {
    match name {
        "client_id" => identities::Selector::Client,
        "object_id" => identities::Selector::Object,
        _ => identities::Selector::Resource,
    }
}

/// A file only its owner may read, as the agent leaves its keys (mode 0600).
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// `len` bytes of lower-case hex.
fn random_text(len: usize) -> String {
    let mut text = random_hex_upper(len.div_ceil(2)).to_lowercase();
    text.truncate(len);
    text
}

impl Host for ArcAgent {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::Arc
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::Arc)
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        if request.path() != TOKEN_PATH {
            return Err(fail(404, "not_found", "Not found"));
        }
        if request.method != "GET" {
            return Err(fail(405, "method_not_allowed", "Not allowed"));
        }
        if request.header("metadata") != Some("true") {
            return Err(fail(
                400,
                "invalid_request",
                "Required metadata header not specified",
            ));
        }
        let version = request.query("api-version").unwrap_or_default();
        if !VERSIONS.contains(&version.as_str()) {
            let text = format!(
                "The api-version not specified. Supported are {}",
                VERSIONS.join(" ")
            );
            return Err(fail(400, "invalid_request", &text));
        }
        if !self.authorized(request) {
            return Ok(self.challenge());
        }
        self.token(request)
    }

    fn error_response(&self, failure: &Failure, _: &Request, _: &ConnInfo) -> Response {
        Response::json(
            failure.status,
            &json!({"error": failure.code, "error_description": failure.text}),
        )
    }

    /// The agent's error for a status injected by a fault, as IMDS words them.
    fn fault_failure(code: u16) -> Failure {
        match code {
            404 => fail(404, "not_found", "Not found"),
            429 => fail(429, "too_many_requests", "Too many requests"),
            500 => fail(500, "server_error", "Server error"),
            501..=599 => fail(code, "service_unavailable", "Service unavailable"),
            _ => fail(code, "bad_request", "Bad request"),
        }
    }

    fn finish(&self, mut response: Response, _: &Request) -> Response {
        if !response.body.is_empty() {
            response.default_header("Content-Type", "application/json; charset=utf-8");
        }
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}
