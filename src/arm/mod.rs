//! Azure Resource Manager: the session a token is used in, calls, lists and ARM's errors.
//!
//! Every request with a token goes through a [`Session`], whose [`Origin`] is the only place
//! the token may be sent; the URLs come from [`Origin::target`] (command line) or
//! [`Origin::follow`] (links in responses), which refuse anything else.

mod errors;
mod link;
pub mod lro;
mod names;
pub mod pages;

use serde_json::Value;

pub use errors::{api_failure, failure};
pub use link::{Origin, Url};
pub use names::{ResourceGroupName, SubscriptionId, check_identity_resource_id, is_guid};

use crate::error::{Error, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::text::{clean, percent_encode};

/// api-version for resource groups and resource lists, when `--api-version` does not say.
pub const GROUP_API_VERSION: &str = "2021-04-01";

/// A token, the one origin it may be sent to, and the service it is for there.
pub struct Session<'a> {
    pub http: &'a Http,
    pub origin: Origin,
    token: &'a str,
    service: Service<'a>,
}

impl<'a> Session<'a> {
    /// A session with ARM.
    pub fn new(http: &'a Http, origin: Origin, token: &'a str) -> Session<'a> {
        Session {
            http,
            origin,
            token,
            service: Service::Arm,
        }
    }

    /// A session with another Azure API (`armi rest --resource`), named in messages.
    pub fn with_api(http: &'a Http, origin: Origin, token: &'a str, name: &'a str) -> Session<'a> {
        Session {
            service: Service::Api(name),
            ..Session::new(http, origin, token)
        }
    }

    /// Sends one request (with retries) and returns whatever status came back.
    pub fn send(
        &self,
        method: &str,
        url: &Url,
        headers: Vec<(&str, String)>,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<Reply> {
        let mut request = self.request(method, url, headers, what)?;
        request.body = body;
        self.http.send(&request)
    }

    /// The request with the token to `url`, once `url` is checked to be on this session's
    /// origin: for [`Session::send`], and for the transfers that stream their bodies
    /// (`Http::download`, `Http::upload`).
    pub fn request<'r>(
        &'r self,
        method: &'r str,
        url: &Url,
        headers: Vec<(&'r str, String)>,
        what: &str,
    ) -> Result<Request<'r>> {
        // Callers pass URLs that were checked already; checking again here keeps the promise
        // even if a caller someday does not.
        if !self.origin.allows(url) {
            return Err(Error::failed(format!(
                "{what}: refused to send the token to '{}', which is not {}",
                clean(&url.to_url()),
                self.origin.describe()
            )));
        }
        Ok(Request {
            service: self.service,
            method,
            url: url.to_url(),
            what: what.to_string(),
            headers,
            bearer: Some(self.token),
            body: None,
        })
    }

    /// The reply when it is a success, else the error of the right kind, with the hints of the
    /// service the session is with.
    pub fn expect_success(&self, reply: Reply, what: &str) -> Result<Reply> {
        match self.service {
            Service::Api(name)
                if !(200..300).contains(&reply.status) || reply.gave_up.is_some() =>
            {
                Err(errors::api_failure(name, what, &reply))
            }
            _ => expect_success(reply, what),
        }
    }

    /// GETs a URL and returns its JSON body, or the error ARM gave.
    pub fn get_json(&self, url: &Url, what: &str) -> Result<Value> {
        let reply = self.send("GET", url, vec![], None, what)?;
        let body = self.expect_success(reply, what)?;
        crate::json::parse(&body.body).map_err(|e| {
            Error::failed(format!(
                "{what}: ARM answered {} but the body is not JSON ({e})",
                body.status
            ))
        })
    }
}

/// The reply when it is a success, else the error of the right kind.
pub fn expect_success(reply: Reply, what: &str) -> Result<Reply> {
    if (200..300).contains(&reply.status) && reply.gave_up.is_none() {
        Ok(reply)
    } else {
        Err(failure(what, &reply))
    }
}

/// `/subscriptions/{sub}/resourcegroups/{group}` (the SDKs' spelling; ARM ignores case), each segment encoded on its own.
fn group_path(subscription: &SubscriptionId, group: &ResourceGroupName) -> String {
    format!(
        "/subscriptions/{}/resourcegroups/{}",
        percent_encode(subscription.as_str()),
        percent_encode(group.as_str())
    )
}

/// The URL of one resource group, or of something `below` it (`/resources`).
pub fn group_url(
    endpoint: &Endpoint,
    subscription: &SubscriptionId,
    group: &ResourceGroupName,
    below: &str,
    api_version: &str,
) -> Result<Url> {
    let path = format!("{}{below}", group_path(subscription, group));
    build(endpoint, &path, api_version, None)
}

/// The URL of the subscription's resource group list.
pub fn groups_url(
    endpoint: &Endpoint,
    subscription: &SubscriptionId,
    api_version: &str,
    top: Option<u32>,
) -> Result<Url> {
    let path = format!(
        "/subscriptions/{}/resourcegroups",
        percent_encode(subscription.as_str())
    );
    build(endpoint, &path, api_version, top)
}

fn build(endpoint: &Endpoint, path: &str, api_version: &str, top: Option<u32>) -> Result<Url> {
    let mut query = format!("api-version={}", percent_encode(api_version));
    if let Some(top) = top {
        query.push_str(&format!("&%24top={top}"));
    }
    Url::parse(&endpoint.url(path, &query))
        .map_err(|e| Error::failed(format!("internal: built an invalid URL: {e}")))
}
