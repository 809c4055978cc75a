//! A host armi must never talk to (another tenant's endpoint, an attacker's `nextLink`): it
//! only records, and answers 200 `{}` so that nothing about its answer stops a leak early.
//! With `Scenario::vault` it is a Key Vault instead, the one other service armi may call, with
//! a token for it (see `vault`).

use std::sync::Arc;

use crate::encoding::{epoch_now, http_date};
use crate::http::{Request, Response};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::{ConnInfo, Handler};
use crate::state::Shared;
use crate::vault;

pub struct Foreign {
    shared: Arc<Shared>,
}

impl Foreign {
    pub fn new(shared: Arc<Shared>) -> Self {
        Foreign { shared }
    }
}

impl Handler for Foreign {
    fn service(&self) -> Service {
        Service::Foreign
    }

    fn on_route(&self, _route: &Route, _request: &Request) -> bool {
        false
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        let mut response = if self.shared.scenario.vault {
            vault::answer(&self.shared, request)
        } else {
            Response::json(200, &serde_json::json!({}))
        };
        self.decorate(&mut response, request, conn);
        response
    }

    fn fault(&self, request: &Request, code: u16, _: Option<&str>, conn: &ConnInfo) -> Response {
        let mut response = Response::json(code, &serde_json::json!({}));
        self.decorate(&mut response, request, conn);
        response
    }

    fn decorate(&self, response: &mut Response, _request: &Request, _conn: &ConnInfo) {
        response.default_header("Content-Type", "application/json");
        response.default_header("Date", &http_date(epoch_now()));
    }
}
