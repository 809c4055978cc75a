//! What Azure Storage's blob service puts on the wire that the test world reproduces itself
//! (the rest comes from Azurite): the service version the test clients speak, the token
//! audience, its request ids and its XML errors, with the code again in `x-ms-error-code`
//! (data-plane.md §2).
//!
//! Recorded shapes (Azure/kusto-copy#79, CDCgov/prime-reportstream#12209, Storage Explorer
//! #6889): the reason phrase is the error message; `Server: Windows-Azure-Blob/1.0
//! Microsoft-HTTPAPI/2.0`; request ids like `1a9db850-b01e-0036-17c2-5708ec000000`; the
//! body is `<?xml version="1.0" encoding="utf-8"?><Error><Code>..</Code><Message>..\nRequestId:..\nTime:..</Message></Error>`
//! after a UTF-8 byte-order mark (the recorded `Content-Length`s, 246 and 279, count its three
//! bytes).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::encoding::{http_date, rfc3339};
use crate::ids::random_bytes;

/// The `x-ms-version` the test clients send: fully deployed on the real service (Learn,
/// "Versioning for Azure Storage": every region since 2025) and among the versions the pinned
/// Azurite 3.37.0 accepts without `--skipApiVersionCheck` (its `ValidAPIVersions`).
pub const STORAGE_VERSION: &str = "2025-11-05";

/// The token audience of Storage, the same in every cloud.
pub const STORAGE_AUDIENCE: &str = "https://storage.azure.com/";

/// What Storage's front end calls itself.
pub const SERVER: &str = "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0";

/// One of Storage's error answers, ready to write.
pub struct StorageError {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
    /// `<AuthenticationErrorDetail>` of an `AuthenticationFailed`.
    pub detail: Option<&'static str>,
}

/// 403 for a caller whose role does not allow the operation, or not yet (a new assignment
/// that has not propagated).
pub const PERMISSION_MISMATCH: StorageError = StorageError {
    status: 403,
    code: "AuthorizationPermissionMismatch",
    message: "This request is not authorized to perform this operation using this permission.",
    detail: None,
};

/// 503 when the account's partition is overloaded; clients retry with backoff (Learn, "Common
/// REST API error codes").
pub const SERVER_BUSY: StorageError = StorageError {
    status: 503,
    code: "ServerBusy",
    message: "The server is currently unable to receive requests. Please retry your request.",
    detail: None,
};

/// 403 for a bearer token sent without `x-ms-version`, or with one older than 2017-11-09,
/// the first that takes Entra ID tokens (data-plane.md §2).
pub const BEARER_NEEDS_VERSION: StorageError = StorageError {
    status: 403,
    code: "AuthenticationFailed",
    message: "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
    detail: Some("Authentication scheme Bearer is not supported in this version."),
};

/// The first service version that accepts bearer tokens.
pub const FIRST_BEARER_VERSION: &str = "2017-11-09";

impl StorageError {
    /// The whole response: status line with the message as reason phrase, Storage's headers
    /// (echoing the request's `x-ms-client-request-id` and `x-ms-version`), the XML body.
    pub fn to_bytes(&self, client_request_id: Option<&str>, version: Option<&str>) -> Vec<u8> {
        let request_id = request_id();
        let body = self.body(&request_id);
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nContent-Type: application/xml\r\nServer: {SERVER}\r\nx-ms-request-id: {request_id}\r\n",
            self.status,
            self.message,
            body.len()
        );
        if let Some(id) = client_request_id {
            head.push_str(&format!("x-ms-client-request-id: {id}\r\n"));
        }
        if let Some(version) = version {
            head.push_str(&format!("x-ms-version: {version}\r\n"));
        }
        head.push_str(&format!(
            "x-ms-error-code: {}\r\nDate: {}\r\n\r\n",
            self.code,
            http_date(now().0)
        ));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }

    fn body(&self, request_id: &str) -> Vec<u8> {
        let detail = self.detail.map_or(String::new(), |detail| {
            format!("<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>")
        });
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\nRequestId:{request_id}\nTime:{}</Message>{detail}</Error>",
            self.code,
            self.message,
            error_time()
        );
        let mut body = "\u{feff}".as_bytes().to_vec();
        body.extend_from_slice(xml.as_bytes());
        body
    }
}

/// A Storage request id: GUID-shaped, its last six hex digits zero.
pub fn request_id() -> String {
    let mut bytes = [0u8; 13];
    random_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}000000",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..26]
    )
}

/// `2023-11-13T14:13:17.7458151Z`: seconds with seven fractional digits, as .NET prints them.
fn error_time() -> String {
    let (secs, nanos) = now();
    rfc3339(secs).replace('Z', &format!(".{:07}Z", nanos / 100))
}

fn now() -> (u64, u32) {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_recorded_shape() {
        let bytes = PERMISSION_MISMATCH.to_bytes(Some("c-1"), Some(STORAGE_VERSION));
        let text = String::from_utf8(bytes).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with(
            "HTTP/1.1 403 This request is not authorized to perform this operation using this permission.\r\n"
        ));
        assert!(head.contains("\r\nx-ms-error-code: AuthorizationPermissionMismatch\r\n"));
        assert!(head.contains("\r\nx-ms-client-request-id: c-1\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(body.starts_with("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code>"));
        // The recorded length: 279 bytes with a 36-character request id and a 28-character time.
        assert_eq!(body.len(), 279);
    }

    #[test]
    fn request_ids_end_in_six_zeros() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert!(id.ends_with("000000"));
        assert_eq!(id.matches('-').count(), 4);
    }
}
