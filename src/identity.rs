//! Which managed identity armi acts as, and how each identity host is asked for it.

/// Which managed identity to act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The machine's system-assigned identity (every host's default).
    System,
    /// A user-assigned identity by client (application) id; `from_env` when it came from
    /// `AZURE_CLIENT_ID` rather than a flag, so that messages can say so.
    ClientId { id: String, from_env: bool },
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its ARM resource id.
    ResourceId(String),
}

/// A host's query parameter names for a user-assigned identity, `None` where it has none (it
/// cannot be asked for that identity that way).
#[derive(Debug, Clone, Copy)]
pub struct Selectors {
    pub client_id: Option<&'static str>,
    pub object_id: Option<&'static str>,
    pub resource_id: Option<&'static str>,
}

impl Selectors {
    /// A host that acts only as its system-assigned (or its own fixed) identity.
    pub const NONE: Selectors = Selectors {
        client_id: None,
        object_id: None,
        resource_id: None,
    };
}

/// The identity cannot be asked for on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unselectable;

impl Identity {
    /// The query parameter that selects this identity on a host with these names: `None` for
    /// the system identity, `Err` when the host has no name for this kind of id.
    pub fn select(&self, names: &Selectors) -> Result<Option<(&'static str, &str)>, Unselectable> {
        let (name, id) = match self {
            Identity::System => return Ok(None),
            Identity::ClientId { id, .. } => (names.client_id, id),
            Identity::ObjectId(id) => (names.object_id, id),
            Identity::ResourceId(id) => (names.resource_id, id),
        };
        name.map(|n| Some((n, id.as_str()))).ok_or(Unselectable)
    }

    /// For messages: "the system-assigned identity", "the user-assigned identity with client id X".
    pub fn describe(&self) -> String {
        match self {
            Identity::System => "the system-assigned identity".into(),
            Identity::ClientId { id, from_env } => format!(
                "the user-assigned identity with client id {id}{}",
                if *from_env {
                    " (from AZURE_CLIENT_ID)"
                } else {
                    ""
                }
            ),
            Identity::ObjectId(id) => format!("the user-assigned identity with object id {id}"),
            Identity::ResourceId(id) => format!("the user-assigned identity {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_SERVICE: Selectors = Selectors {
        client_id: Some("client_id"),
        object_id: Some("principal_id"),
        resource_id: Some("mi_res_id"),
    };

    #[test]
    fn each_kind_of_id_uses_the_hosts_own_name() {
        let id = Identity::ObjectId("0f1e".into());
        assert_eq!(id.select(&APP_SERVICE), Ok(Some(("principal_id", "0f1e"))));
        assert_eq!(Identity::System.select(&APP_SERVICE), Ok(None));
    }

    #[test]
    fn a_host_without_a_name_for_the_id_refuses_it() {
        let ml = Selectors {
            client_id: Some("clientid"),
            ..Selectors::NONE
        };
        assert_eq!(
            Identity::ResourceId("/x".into()).select(&ml),
            Err(Unselectable)
        );
        assert_eq!(Identity::System.select(&Selectors::NONE), Ok(None));
    }
}
