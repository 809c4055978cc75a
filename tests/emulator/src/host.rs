//! What IMDS, the other managed-identity hosts and Entra ID have in common: a request gets
//! either the answer or the service's own error, a status fault is that same error for the
//! status, and every response leaves with the service's headers. A `Host` says only what is
//! its own; the `Handler` follows.

use crate::http::{Request, Response};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::{ConnInfo, Handler};

/// A service that answers or fails in its own terms.
pub trait Host: Send + Sync {
    /// An error the service can answer with, before it is rendered.
    type Failure;

    fn service(&self) -> Service;
    /// Whether a fault on `route` applies to this request.
    fn on_route(&self, route: &Route, request: &Request) -> bool;
    /// The answer to a request, or why there is none.
    fn answer(&self, request: &Request) -> Result<Response, Self::Failure>;
    /// The status and body the service sends for `failure`.
    fn error_response(
        &self,
        failure: &Self::Failure,
        request: &Request,
        conn: &ConnInfo,
    ) -> Response;
    /// The failure the service reports when a fault injects status `code`.
    fn fault_failure(code: u16) -> Self::Failure;
    /// Adds the headers the service puts on everything it sends.
    fn finish(&self, response: Response, request: &Request) -> Response;
}

impl<H: Host> Handler for H {
    fn service(&self) -> Service {
        Host::service(self)
    }

    fn on_route(&self, route: &Route, request: &Request) -> bool {
        Host::on_route(self, route, request)
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        let response = self
            .answer(request)
            .unwrap_or_else(|failure| self.error_response(&failure, request, conn));
        self.finish(response, request)
    }

    fn fault(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        conn: &ConnInfo,
    ) -> Response {
        let response = self.error_response(&H::fault_failure(code), request, conn);
        self.finish(response.retry_after(retry_after), request)
    }

    fn decorate(&self, response: &mut Response, request: &Request, _conn: &ConnInfo) {
        *response = self.finish(std::mem::replace(response, Response::new(0)), request);
    }
}
