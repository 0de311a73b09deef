//! Key scopes and permissions (DESIGN §2).

/// What a key is meant for; fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Entra ID / Okta automatic provisioning.
    Scim,
    /// A script in the customer's network.
    OnPremise,
    /// Automation of the admin API.
    PublicApi,
}

/// Read the provisioned directory.
pub const SCIM_READ: &str = "scim:read";
/// Write the provisioned directory.
pub const SCIM_WRITE: &str = "scim:write";
/// Every permission the scope allows.
pub const ALL: &str = "*";
/// Read the tenant's API keys.
pub const API_KEY_READ: &str = "tenant.apiKey:read";
/// Create, change, revoke, rotate and delete the tenant's API keys.
pub const API_KEY_WRITE: &str = "tenant.apiKey:write";
/// Read the tenant's machines.
pub const MACHINE_READ: &str = "tenant.machine:read";
/// Create, change and delete the tenant's machines.
pub const MACHINE_WRITE: &str = "tenant.machine:write";
/// Read the tenant's settings.
pub const SETTINGS_READ: &str = "tenant.settings:read";
/// Change the tenant's settings.
pub const SETTINGS_WRITE: &str = "tenant.settings:write";
/// Read the tenant's audit events.
pub const AUDIT_READ: &str = "tenant.audit:read";
/// Read the provisioned users and groups in the console (personal data: a permission of its
/// own, included in `*`).
pub const DIRECTORY_READ: &str = "tenant.directory:read";
/// Read the tenant's provisioning events (the events API).
pub const EVENTS_READ: &str = "tenant.events:read";
/// Create, change and remove RFC 9967 event streams.
pub const EVENTS_WRITE: &str = "tenant.events:write";
/// List webhook endpoints and their delivery attempts.
pub const WEBHOOKS_READ: &str = "tenant.webhooks:read";
/// Register, change and remove webhook endpoints.
pub const WEBHOOKS_WRITE: &str = "tenant.webhooks:write";

/// Read the tenant's provisioning activity (the SCIM requests its identity providers sent).
pub const ACTIVITY_READ: &str = "tenant.activity:read";

/// Every permission a `public_api` key can hold besides `*`.
pub const ADMIN_PERMISSIONS: &[&str] = &[
    API_KEY_READ,
    API_KEY_WRITE,
    MACHINE_READ,
    MACHINE_WRITE,
    SETTINGS_READ,
    SETTINGS_WRITE,
    AUDIT_READ,
    DIRECTORY_READ,
    EVENTS_READ,
    EVENTS_WRITE,
    WEBHOOKS_READ,
    WEBHOOKS_WRITE,
    ACTIVITY_READ,
];

/// Every permission a `scim` or `on_premise` key can hold besides `*`.
pub const SCIM_PERMISSIONS: &[&str] = &[SCIM_READ, SCIM_WRITE];

impl Scope {
    /// The stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scim => "scim",
            Self::OnPremise => "on_premise",
            Self::PublicApi => "public_api",
        }
    }

    /// Parses the stored and API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scim" => Some(Self::Scim),
            "on_premise" => Some(Self::OnPremise),
            "public_api" => Some(Self::PublicApi),
            _ => None,
        }
    }

    /// The `<kind>` part of a token of this scope.
    pub fn token_kind(self) -> &'static str {
        match self {
            Self::Scim => "scim",
            Self::OnPremise => "onprem",
            Self::PublicApi => "api",
        }
    }

    pub(crate) fn from_token_kind(kind: &str) -> Option<Self> {
        match kind {
            "scim" => Some(Self::Scim),
            "onprem" => Some(Self::OnPremise),
            "api" => Some(Self::PublicApi),
            _ => None,
        }
    }

    /// Whether keys of this scope may call `/scim/v2`.
    pub fn reaches_scim(self) -> bool {
        matches!(self, Self::Scim | Self::OnPremise)
    }

    /// Whether keys of this scope are OAuth 2.0 clients (a client id, the value as secret):
    /// the keys that reach `/scim/v2`.
    pub fn is_oauth_client(self) -> bool {
        self.reaches_scim()
    }

    /// The permissions (besides `*`) a key of this scope may hold.
    pub fn allowed_permissions(self) -> &'static [&'static str] {
        match self {
            Self::Scim | Self::OnPremise => SCIM_PERMISSIONS,
            Self::PublicApi => ADMIN_PERMISSIONS,
        }
    }

    /// Whether `permission` is known to scimd at all, whatever the scope.
    pub fn is_known_permission(permission: &str) -> bool {
        permission == ALL
            || SCIM_PERMISSIONS.contains(&permission)
            || ADMIN_PERMISSIONS.contains(&permission)
    }

    /// The permissions a new key of this scope gets when none are asked for: `scim:read`
    /// and `scim:write` for `scim` and `on_premise` keys, none for `public_api` keys (whose
    /// permissions, `*` included, are always written out).
    pub fn default_permissions(self) -> Vec<String> {
        match self {
            Self::Scim | Self::OnPremise => vec![SCIM_READ.into(), SCIM_WRITE.into()],
            Self::PublicApi => Vec::new(),
        }
    }
}

/// Whether `granted` includes `wanted` (`*` includes everything).
pub fn grants(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|p| p == ALL || p == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for s in [Scope::Scim, Scope::OnPremise, Scope::PublicApi] {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            assert_eq!(Scope::from_token_kind(s.token_kind()), Some(s));
        }
        assert_eq!(Scope::parse("admin"), None);
    }

    #[test]
    fn star_grants_everything() {
        assert!(grants(&["*".into()], SCIM_WRITE));
        assert!(grants(&[SCIM_READ.into()], SCIM_READ));
        assert!(!grants(&[SCIM_READ.into()], SCIM_WRITE));
        assert!(!grants(&[], SCIM_READ));
    }
}
