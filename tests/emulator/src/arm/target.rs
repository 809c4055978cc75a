//! What an ARM request path names. Keywords match case-insensitively and names are
//! percent-decoded, as ARM does.

use crate::address::Address;
use crate::encoding::path_decode;

/// The things ARM answers for.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// `/subscriptions/{sub}/resourcegroups`
    Groups { sub: String },
    /// `/subscriptions/{sub}/resourcegroups/{name}`
    Group { sub: String, name: String },
    /// `/subscriptions/{sub}/resourceGroups/{group}/resources`
    Resources { sub: String, group: String },
    /// `/subscriptions/{sub}/resourceGroups/{group}/providers/{namespace}/{type}/{name}...`;
    /// `tail` is a last segment without a name: an action (POST) or a collection (GET).
    /// Without type/name pairs, `address` has no types and `tail` is a top-level collection.
    Resource {
        address: Address,
        tail: Option<String>,
    },
    /// `/subscriptions/{sub}/providers/{namespace}/locations/{location}/operationStatuses/{id}`
    /// (`Azure-AsyncOperation`) or `.../operationResults/{id}` (`Location`).
    Poll {
        sub: String,
        namespace: String,
        location: String,
        id: String,
        kind: PollKind,
    },
    /// `/subscriptions/{sub}/operationresults/{id}`: where a resource group deletion is
    /// followed.
    GroupDeletion { sub: String, id: String },
    /// `/subscriptions/{sub}/providers/{namespace}/{type}`: a type's resources in every group
    /// of the subscription (Compute's `VirtualMachines_ListAll`).
    SubscriptionCollection {
        sub: String,
        namespace: String,
        kind: String,
    },
}

#[derive(Debug, PartialEq)]
pub enum PollKind {
    /// The operation resource: 200 with its status.
    Status,
    /// 202 until done, then what the operation would have answered at once.
    Result,
}

impl Target {
    /// The target, or the resource provider namespace an unknown path names.
    pub fn parse(path: &str) -> Result<Target, String> {
        let mut segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(path_decode)
            .collect();
        if segments.last().is_some_and(String::is_empty) {
            segments.pop();
        }
        let named = segments.iter().all(|s| !s.is_empty());
        let parsed = if named && keyword(&segments, 0, "subscriptions") {
            subscription_level(&segments)
        } else {
            None
        };
        parsed.ok_or_else(|| {
            segments
                .iter()
                .position(|s| s.eq_ignore_ascii_case("providers"))
                .and_then(|i| segments.get(i + 1))
                .cloned()
                .unwrap_or_else(|| "Microsoft.Resources".to_string())
        })
    }

    /// The subscription the path is in.
    pub fn subscription(&self) -> &str {
        match self {
            Target::Groups { sub }
            | Target::Group { sub, .. }
            | Target::Resources { sub, .. }
            | Target::Poll { sub, .. }
            | Target::GroupDeletion { sub, .. }
            | Target::SubscriptionCollection { sub, .. } => sub,
            Target::Resource { address, .. } => &address.sub,
        }
    }

    /// Whether Microsoft.Resources itself answers (its api-versions apply), rather than the
    /// resource provider of a namespace.
    pub fn is_microsoft_resources(&self) -> bool {
        matches!(
            self,
            Target::Groups { .. }
                | Target::Group { .. }
                | Target::Resources { .. }
                | Target::GroupDeletion { .. }
        )
    }
}

fn keyword(segments: &[String], i: usize, word: &str) -> bool {
    segments
        .get(i)
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

fn subscription_level(segments: &[String]) -> Option<Target> {
    let sub = segments.get(1)?.clone();
    let at = |i: usize, word: &str| keyword(segments, i, word);
    if at(2, "resourcegroups") {
        return group_level(sub, segments);
    }
    if at(2, "operationresults") && segments.len() == 4 {
        let id = segments[3].clone();
        return Some(Target::GroupDeletion { sub, id });
    }
    if at(2, "providers") && segments.len() == 5 {
        return Some(Target::SubscriptionCollection {
            sub,
            namespace: segments[3].clone(),
            kind: segments[4].clone(),
        });
    }
    if at(2, "providers") && at(4, "locations") && segments.len() == 8 {
        let kind = if at(6, "operationStatuses") {
            PollKind::Status
        } else if at(6, "operationResults") {
            PollKind::Result
        } else {
            return None;
        };
        return Some(Target::Poll {
            sub,
            namespace: segments[3].clone(),
            location: segments[5].clone(),
            id: segments[7].clone(),
            kind,
        });
    }
    None
}

fn group_level(sub: String, segments: &[String]) -> Option<Target> {
    match segments.len() {
        3 => return Some(Target::Groups { sub }),
        4 => {
            let name = segments[3].clone();
            return Some(Target::Group { sub, name });
        }
        5 if keyword(segments, 4, "resources") => {
            let group = segments[3].clone();
            return Some(Target::Resources { sub, group });
        }
        _ => {}
    }
    if !keyword(segments, 4, "providers") || segments.len() < 7 {
        return None;
    }
    let pairs = &segments[6..];
    let mut address = Address {
        sub,
        group: segments[3].clone(),
        namespace: segments[5].clone(),
        types: Vec::new(),
        names: Vec::new(),
    };
    for pair in pairs.chunks(2) {
        if let [kind, name] = pair {
            address.types.push(kind.clone());
            address.names.push(name.clone());
        }
    }
    let tail = (pairs.len() % 2 == 1).then(|| pairs[pairs.len() - 1].clone());
    Some(Target::Resource { address, tail })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "/subscriptions/s";

    #[test]
    fn paths_name_groups_resources_and_operations() {
        let parse = |p: &str| Target::parse(&format!("{SUB}{p}"));
        assert_eq!(
            parse("/resourceGroups/rg/"),
            Ok(Target::Group {
                sub: "s".into(),
                name: "rg".into()
            })
        );
        let Ok(Target::Resource { address, tail }) =
            parse("/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm%31/restart")
        else {
            panic!("an action");
        };
        assert_eq!(address.names, ["vm1"]);
        assert_eq!(tail.as_deref(), Some("restart"));
        let Ok(Target::Resource { address, tail }) =
            parse("/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines")
        else {
            panic!("a collection");
        };
        assert!(address.types.is_empty());
        assert_eq!(tail.as_deref(), Some("virtualMachines"));
        assert!(matches!(
            parse("/providers/Microsoft.Compute/locations/westeurope/operationStatuses/op"),
            Ok(Target::Poll {
                kind: PollKind::Status,
                ..
            })
        ));
        assert!(matches!(
            parse("/operationresults/eyJ"),
            Ok(Target::GroupDeletion { .. })
        ));
        assert_eq!(
            parse("/providers/Microsoft.Compute/virtualMachines"),
            Ok(Target::SubscriptionCollection {
                sub: "s".into(),
                namespace: "Microsoft.Compute".into(),
                kind: "virtualMachines".into()
            })
        );
        assert_eq!(
            parse("/providers/Microsoft.Compute/locations/westeurope"),
            Err("Microsoft.Compute".to_string())
        );
        assert_eq!(
            parse("/resourceGroups//x"),
            Err("Microsoft.Resources".into())
        );
    }
}
