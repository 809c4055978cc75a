//! A resource provider's list of one type across the whole subscription
//! (`GET /subscriptions/{sub}/providers/{namespace}/{type}`, Compute's
//! `VirtualMachines_ListAll`): every group's resources of that type, as GET answers them, a
//! page at a time.

use super::errors::{ArmError, error};
use super::{Arm, Call};
use crate::catalog::top_level_type;
use crate::http::Response;

impl Arm {
    /// The list needs a role on the whole subscription: a caller who may read some groups
    /// only is refused over the provider's scope in the subscription, as ARM refuses it.
    pub(super) fn subscription_collection(
        &self,
        call: &Call,
        sub: &str,
        namespace: &str,
        kind: &str,
    ) -> Result<Response, ArmError> {
        let Some(full_type) = top_level_type(&format!("{namespace}/{kind}")) else {
            return Err(error(
                404,
                "InvalidResourceType",
                format!(
                    "The resource type '{kind}' could not be found in the namespace '{namespace}' for api version '{}'.",
                    call.version
                ),
            ));
        };
        let scope = format!(
            "/subscriptions/{sub}/providers/{}",
            full_namespace(full_type)
        );
        self.authorize(call, &format!("{full_type}/read"), &scope)?;
        let page = self.page(call, call.request.path())?;
        let (items, next) = self
            .shared
            .world()
            .store
            .subscription_page(full_type, page.start, page.size);
        Ok(Response::json(
            200,
            &self.list_body(call, &page, items, next),
        ))
    }
}

/// `Microsoft.Compute` of `Microsoft.Compute/virtualMachines`.
fn full_namespace(full_type: &str) -> &str {
    full_type.split('/').next().unwrap_or(full_type)
}
