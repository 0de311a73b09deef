//! Who asks for a change, and what it holds: what the admin extractor, the console session and
//! the CLI hand to the service (`scim-service`), which never lets a caller grant more than it
//! holds.

use scim_store::Actor;

use crate::scope::{grants, ALL};

/// Who asks for a change, and what it holds.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit trail.
    pub actor: Actor,
    /// The caller's own permissions (`*` for the operator).
    pub granted: Vec<String>,
}

impl Caller {
    /// A caller holding every permission (operator token, CLI).
    pub fn operator(actor: Actor) -> Self {
        Self {
            actor,
            granted: vec![ALL.into()],
        }
    }

    /// The first permission of `wanted` the caller does not hold, if any; `*` needs `*`.
    pub fn lacks<'w>(&self, wanted: &'w [String]) -> Option<&'w str> {
        wanted
            .iter()
            .find(|p| {
                if p.as_str() == ALL {
                    !self.granted.iter().any(|g| g == ALL)
                } else {
                    !grants(&self.granted, p)
                }
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_needs_star_and_admin_permissions_do_not_grant_scim() {
        let c = Caller {
            actor: Actor::local("t"),
            granted: crate::scope::ADMIN_PERMISSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        assert_eq!(c.lacks(&["tenant.apiKey:read".into()]), None);
        assert_eq!(c.lacks(&["*".into()]), Some("*"));
        assert_eq!(c.lacks(&["scim:read".into()]), Some("scim:read"));
        assert_eq!(
            Caller::operator(Actor::local("t")).lacks(&["*".into(), "scim:read".into()]),
            None
        );
    }
}
