//! Where a resource lives: `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/`
//! followed by type/name pairs, one pair per level of nesting.

use crate::catalog::canonical_type;

/// A resource's id taken apart, names as the request spelled them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub sub: String,
    pub group: String,
    pub namespace: String,
    /// `["virtualMachines", "extensions"]`, one per level.
    pub types: Vec<String>,
    /// `["vm1", "ext1"]`, as many as `types`.
    pub names: Vec<String>,
}

impl Address {
    /// `Microsoft.Compute/virtualMachines/extensions`, canonically spelled where known.
    pub fn full_type(&self) -> String {
        canonical_type(&format!("{}/{}", self.namespace, self.types.join("/")))
    }

    /// The namespace as the resource provider spells it.
    pub fn canonical_namespace(&self) -> String {
        let full = self.full_type();
        full.split('/')
            .next()
            .unwrap_or(&self.namespace)
            .to_string()
    }

    /// Nested under another resource (`.../virtualMachines/vm1/extensions/ext1`).
    pub fn is_nested(&self) -> bool {
        self.types.len() > 1
    }

    /// The resource this one is nested in.
    pub fn parent(&self) -> Option<Address> {
        self.is_nested().then(|| Address {
            types: self.types[..self.types.len() - 1].to_vec(),
            names: self.names[..self.names.len() - 1].to_vec(),
            ..self.clone()
        })
    }

    /// The last name: what ARM shows as a (nested) resource's `name`.
    pub fn name(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    /// `Microsoft.Compute/virtualMachines/vm1/extensions/ext1`, as ARM names a resource in
    /// its messages.
    pub fn typed_path(&self) -> String {
        let pairs: Vec<String> = self
            .types
            .iter()
            .zip(&self.names)
            .map(|(t, n)| format!("{t}/{n}"))
            .collect();
        format!("{}/{}", self.namespace, pairs.join("/"))
    }

    /// The id with the group spelled `group` and types canonically: what GET answers.
    pub fn canonical_id(&self, group: &str) -> String {
        let full = self.full_type();
        let mut parts = full.split('/');
        let namespace = parts.next().unwrap_or(&self.namespace);
        let pairs: Vec<String> = parts
            .zip(&self.names)
            .map(|(t, n)| format!("{t}/{n}"))
            .collect();
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/{namespace}/{}",
            self.sub,
            pairs.join("/")
        )
    }

    /// The id as requested: the scope RBAC is checked on and messages print.
    pub fn scope(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.sub,
            self.group,
            self.typed_path()
        )
    }

    /// Identifies the resource within its group whatever the spelling.
    pub fn key(&self) -> String {
        self.typed_path().to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_rebuilt_canonically() {
        let address = Address {
            sub: "s".into(),
            group: "RG".into(),
            namespace: "microsoft.compute".into(),
            types: vec!["VIRTUALMACHINES".into(), "extensions".into()],
            names: vec!["vm1".into(), "ext".into()],
        };
        assert_eq!(
            address.canonical_id("rg"),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/extensions/ext"
        );
        assert_eq!(
            address.typed_path(),
            "microsoft.compute/VIRTUALMACHINES/vm1/extensions/ext"
        );
        assert_eq!(address.parent().map(|p| p.names), Some(vec!["vm1".into()]));
        assert_eq!(address.canonical_namespace(), "Microsoft.Compute");
    }
}
