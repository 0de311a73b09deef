//! The one configuration of scimd, read from `SCIMD_*` environment variables, validated once
//! with every problem reported together, and passed explicitly from then on.

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

/// The database URL used when `SCIMD_DATABASE_URL` is not set: a SQLite file, no setup.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/scimd.db?mode=rwc";

/// Variables scimd reads (and so does not warn about).
/// Every `SCIMD_*` variable scimd reads (the README's configuration table says what each
/// does); `scimd --help` lists them.
pub const KNOWN: &[&str] = &[
    "SCIMD_DATABASE_URL",
    "SCIMD_DATABASE_URL_FILE",
    "SCIMD_DB_MAX_CONNECTIONS",
    "SCIMD_DB_TIMEOUT_SECS",
    "SCIMD_DB_STATEMENT_TIMEOUT_SECS",
    "SCIMD_REQUEST_TIMEOUT_SECS",
    "SCIMD_LISTEN",
    "SCIMD_PUBLIC_URL",
    "SCIMD_TRUSTED_PROXIES",
    "SCIMD_ADMIN_EMAIL",
    "SCIMD_METRICS_LISTEN",
    "SCIMD_BOOTSTRAP",
    "SCIMD_MAX_BODY_BYTES",
    "SCIMD_DEFAULT_PAGE_SIZE",
    "SCIMD_MAX_PAGE_SIZE",
    "SCIMD_WORKERS",
    "SCIMD_GROUP_PATCH_MEMBER_LIMIT",
    "SCIMD_BULK_MAX_OPERATIONS",
    "SCIMD_RATE_LIMIT_PER_SECOND",
    "SCIMD_RATE_LIMIT_BURST",
    "SCIMD_OAUTH_TOKENS_PER_MINUTE",
    "SCIMD_EVENTS_CAPTURE",
    "SCIMD_ACTIVITY",
    "SCIMD_ACTIVITY_QUEUE",
    "SCIMD_ACTIVITY_FLUSH_MS",
    "SCIMD_ACTIVITY_SILENT_SECS",
    "SCIMD_WEBHOOK_ALLOW_HTTP",
    "SCIMD_WEBHOOK_ALLOW_PRIVATE",
    "SCIMD_WEBHOOK_RETRY_BASE_SECS",
    "SCIMD_WEBHOOK_TIMEOUT_SECS",
    "SCIMD_WEBHOOK_POLL_MS",
    "SCIMD_SET_LONG_POLL_SECS",
    "SCIMD_FEDERATION_JWKS_HOSTS",
    "SCIMD_FEDERATION_JWKS_MIN_REFRESH_SECS",
    "SCIMD_FILTER_MAX_LENGTH",
    "SCIMD_AUTH_FAILURE_BURST",
    "SCIMD_AUTH_FAILURES_PER_MINUTE",
    "SCIMD_MAX_VALUE_BYTES",
    "SCIMD_MAX_MULTI_VALUES",
    "SCIMD_LOG",
    "SCIMD_LOG_FORMAT",
    "SCIMD_OPERATOR_TOKEN",
    "SCIMD_OPERATOR_TOKEN_FILE",
    "SCIMD_SMTP_URL",
    "SCIMD_SMTP_URL_FILE",
    "SCIMD_MAIL_FROM",
    "SCIMD_MAIL_MAX_ATTEMPTS",
    "SCIMD_MAIL_RETRY_SECS",
    "SCIMD_EXPIRY_INTERVAL",
    "SCIMD_CONSOLE_IDLE_MINUTES",
    "SCIMD_CONSOLE_ABSOLUTE_HOURS",
    "SCIMD_CONSOLE_SECURE_COOKIES",
    // read by the test suite, not by the service
    "SCIMD_TEST_DATABASE_URL",
    "SCIMD_TEST_PROCESSES",
];

/// A database URL whose password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the URL names a SQLite database.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for DatabaseUrl {
    /// Prints the URL with any password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &url[scheme_end + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                write!(f, "{}://{user}:***{}", &url[..scheme_end], &url[at..])
            }
            _ => f.write_str(url),
        }
    }
}

/// A secret (the operator token) that `Debug` never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Shortest accepted operator token.
pub const MIN_OPERATOR_TOKEN_LEN: usize = 32;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives.
    pub database_url: DatabaseUrl,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it gets `503`.
    pub db_timeout: std::time::Duration,
    /// How long one read statement may run (on PostgreSQL: any statement).
    pub db_statement_timeout: std::time::Duration,
    /// A request not answered by then gets `503` + `Retry-After`, unless it has begun a write
    /// (which runs to its commit and answers what happened).
    pub request_timeout: std::time::Duration,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Externally visible base URL (`https://scim.example.com`) for `Location` and `meta`.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For`/`-Proto`/`-Host` are believed (none by default).
    pub trusted_proxies: scim_auth::TrustedProxies,
    /// A separate address for `/metrics` (then 404 on the public port).
    pub metrics_listen: Option<SocketAddr>,
    /// Whether the first start creates tenant `default` and prints two keys.
    pub bootstrap: bool,
    /// The admin e-mail of the tenant the first start creates (expiry warnings go there).
    pub admin_email: Option<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Page size when `count` is absent.
    pub default_page_size: u64,
    /// Largest page size.
    pub max_page_size: u64,
    /// Largest group whose PATCH response includes the group; larger ones answer `204`.
    pub group_patch_member_limit: u64,
    /// Most operations in one `/Bulk` request (0 turns Bulk off).
    pub bulk_max_operations: usize,
    /// Sustained requests per second per tenant (0: unlimited).
    pub rate_limit_per_second: f64,
    /// Burst per tenant.
    pub rate_limit_burst: f64,
    /// Access tokens a key (OAuth client) may obtain per minute, and at once (0: unlimited).
    pub oauth_tokens_per_minute: f64,
    /// Whether SCIM changes capture provisioning events (on unless `SCIMD_EVENTS_CAPTURE=0`).
    pub capture_events: bool,
    /// Webhook URLs may be `http://` (`SCIMD_WEBHOOK_ALLOW_HTTP`).
    pub webhook_allow_http: bool,
    /// Webhooks may reach private and loopback addresses (`SCIMD_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// First wait after a failed webhook delivery, doubled after each further one.
    pub webhook_retry_base: std::time::Duration,
    /// Longest wait for a webhook endpoint's answer.
    pub webhook_timeout: std::time::Duration,
    /// Whether SCIM requests are recorded as provisioning activity (`SCIMD_ACTIVITY`, on).
    pub activity: bool,
    /// Activity records waiting to be written at most (`SCIMD_ACTIVITY_QUEUE`); more are
    /// dropped and counted.
    pub activity_queue: usize,
    /// How long the activity writer gathers records before writing them.
    pub activity_flush: std::time::Duration,
    /// After how long without a request a key or client is silent (`SCIMD_ACTIVITY_SILENT_SECS`,
    /// 2400: Entra ID's 40-minute cycle).
    pub activity_silent_after: std::time::Duration,
    /// Time between webhook delivery passes (`SCIMD_WEBHOOK_POLL_MS`; 0 turns delivery off in
    /// this process).
    pub webhook_poll: Option<std::time::Duration>,
    /// Longest wait of an RFC 8936 poll for a first SET (`SCIMD_SET_LONG_POLL_SECS`).
    pub set_long_poll: std::time::Duration,
    /// Hosts (`host` or `host:port`) whose JWKS federated credentials may name.
    pub federation_jwks_hosts: Vec<String>,
    /// An unknown `kid` fetches a JWKS again at most this often.
    pub federation_jwks_min_refresh: std::time::Duration,
    /// Longest filter text.
    pub filter_max_length: usize,
    /// Failed authentications an address may make at once.
    pub auth_failure_burst: f64,
    /// Failed authentications per minute an address earns back (0: no throttling).
    pub auth_failures_per_minute: f64,
    /// Longest string attribute value, in bytes.
    pub max_value_bytes: usize,
    /// Most values of one multi-valued attribute (group members excepted).
    pub max_multi_values: usize,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// The operator token (`/api/tenants`, any tenant's admin API), if configured.
    pub operator_token: Option<Secret>,
    /// Minutes of inactivity after which a console session ends.
    pub console_idle_minutes: u64,
    /// Hours after sign-in after which a console session ends, however busy.
    pub console_absolute_hours: u64,
    /// Console cookies `Secure`: `Some(true)` always, `Some(false)` never, `None` (`auto`) when
    /// the request came over TLS or with `X-Forwarded-Proto: https`.
    pub console_secure_cookies: Option<bool>,
    /// Where expiry warnings are sent (`smtp://`, `smtps://`; may hold a password).
    pub smtp_url: Option<Secret>,
    /// Sender of expiry warnings.
    pub mail_from: String,
    /// Tries before an expiry warning is given up.
    pub mail_max_attempts: u32,
    /// Wait after a first failed delivery (doubled after each further one).
    pub mail_retry: std::time::Duration,
    /// Time between expiry sweeps inside `scimd serve` (`None`: no sweeps, e.g. when cron runs
    /// `scimd expiry run --once`).
    pub expiry_interval: Option<std::time::Duration>,
}

/// Reads `90s`, `15m`, `1h`, `2d` or a number of seconds.
fn parse_duration(raw: &str) -> Option<std::time::Duration> {
    let raw = raw.trim();
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => raw.split_at(i),
        None => (raw, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

/// Every problem found in the environment.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<(Self, Vec<String>), ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads the configuration from `vars`; also returns warnings (unknown `SCIMD_*` names).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<(Self, Vec<String>), ConfigError> {
        let mut errors = Vec::new();
        let mut warnings: Vec<String> = vars
            .keys()
            .filter(|k| k.starts_with("SCIMD_") && !KNOWN.contains(&k.as_str()))
            .map(|k| format!("unknown variable {k} is ignored"))
            .collect();
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database_url = match (get("SCIMD_DATABASE_URL"), get("SCIMD_DATABASE_URL_FILE")) {
            (Some(_), Some(_)) => {
                errors.push("set SCIMD_DATABASE_URL or SCIMD_DATABASE_URL_FILE, not both".into());
                String::new()
            }
            (Some(url), None) => url,
            (None, Some(file)) => match std::fs::read_to_string(&file) {
                Ok(text) => text.trim().to_owned(),
                Err(e) => {
                    errors.push(format!("SCIMD_DATABASE_URL_FILE: cannot read {file}: {e}"));
                    String::new()
                }
            },
            (None, None) => DEFAULT_DATABASE_URL.to_owned(),
        };
        if errors.is_empty()
            && !(database_url.starts_with("sqlite:")
                || database_url.starts_with("postgres://")
                || database_url.starts_with("postgresql://"))
        {
            errors.push(
                "SCIMD_DATABASE_URL must start with sqlite:, postgres:// or postgresql://".into(),
            );
        }

        let operator_token = match (
            get("SCIMD_OPERATOR_TOKEN"),
            get("SCIMD_OPERATOR_TOKEN_FILE"),
        ) {
            (Some(_), Some(_)) => {
                errors
                    .push("set SCIMD_OPERATOR_TOKEN or SCIMD_OPERATOR_TOKEN_FILE, not both".into());
                None
            }
            (Some(token), None) => Some(token),
            (None, Some(file)) => match std::fs::read_to_string(&file) {
                Ok(text) => Some(text.trim().to_owned()),
                Err(e) => {
                    errors.push(format!(
                        "SCIMD_OPERATOR_TOKEN_FILE: cannot read {file}: {e}"
                    ));
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(token) = &operator_token {
            if token.len() < MIN_OPERATOR_TOKEN_LEN || token.chars().any(char::is_whitespace) {
                errors.push(format!(
                    "the operator token must be at least {MIN_OPERATOR_TOKEN_LEN} characters without spaces"
                ));
            }
        }

        let smtp_url = match (get("SCIMD_SMTP_URL"), get("SCIMD_SMTP_URL_FILE")) {
            (Some(_), Some(_)) => {
                errors.push("set SCIMD_SMTP_URL or SCIMD_SMTP_URL_FILE, not both".into());
                None
            }
            (Some(url), None) => Some(url),
            (None, Some(file)) => match std::fs::read_to_string(&file) {
                Ok(text) => Some(text.trim().to_owned()),
                Err(e) => {
                    errors.push(format!("SCIMD_SMTP_URL_FILE: cannot read {file}: {e}"));
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                errors.push("SCIMD_SMTP_URL must start with smtp:// or smtps://".into());
            }
        }
        if smtp_url.is_some() && get("SCIMD_MAIL_FROM").is_none() {
            warnings.push(
                "SCIMD_SMTP_URL is set but SCIMD_MAIL_FROM is not: expiry warnings go out from \
                 scimd@localhost, which most mail servers refuse or file as spam"
                    .into(),
            );
        }
        let mail_from = get("SCIMD_MAIL_FROM").unwrap_or_else(|| "scimd <scimd@localhost>".into());
        if !mail_from.contains('@') {
            errors.push(format!(
                "SCIMD_MAIL_FROM: '{mail_from}' is not an address like scimd@example.com"
            ));
        }
        let expiry_interval = match get("SCIMD_EXPIRY_INTERVAL") {
            None => Some(std::time::Duration::from_secs(3600)),
            Some(raw) => match parse_duration(&raw) {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => {
                    errors.push(format!(
                        "SCIMD_EXPIRY_INTERVAL: '{raw}' is not a duration like 1h, 30m or 0 (off)"
                    ));
                    None
                }
            },
        };

        let listen_raw = get("SCIMD_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_raw.parse::<SocketAddr>().ok();
        if listen.is_none() {
            errors.push(format!(
                "SCIMD_LISTEN: '{listen_raw}' is not an address like 127.0.0.1:8080"
            ));
        }
        let bootstrap = match get("SCIMD_BOOTSTRAP")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(other) => {
                errors.push(format!("SCIMD_BOOTSTRAP: '{other}' is not true or false"));
                true
            }
        };
        let public_url = get("SCIMD_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        let admin_email = match scim_service::tenants::check_email(get("SCIMD_ADMIN_EMAIL")) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("SCIMD_ADMIN_EMAIL: {e}"));
                None
            }
        };
        let trusted_proxies = match scim_auth::TrustedProxies::parse(
            get("SCIMD_TRUSTED_PROXIES").as_deref().unwrap_or(""),
        ) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("SCIMD_TRUSTED_PROXIES: {e}"));
                scim_auth::TrustedProxies::default()
            }
        };
        let metrics_listen = match get("SCIMD_METRICS_LISTEN").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(raw) => match raw.trim().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.push(format!(
                        "SCIMD_METRICS_LISTEN: '{raw}' is not an address and port (127.0.0.1:9090)"
                    ));
                    None
                }
            },
        };
        if let Some(u) = &public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                errors.push("SCIMD_PUBLIC_URL must start with http:// or https://".into());
            }
        }
        let mut number = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            let Some(raw) = get(name) else { return default };
            match raw.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    errors.push(format!(
                        "{name}: '{raw}' must be a whole number from {min} to {max}"
                    ));
                    default
                }
            }
        };
        let db_max_connections = sat_u32(number("SCIMD_DB_MAX_CONNECTIONS", 16, 1, 1024));
        let db_timeout = std::time::Duration::from_secs(number("SCIMD_DB_TIMEOUT_SECS", 5, 1, 300));
        let db_statement_timeout =
            std::time::Duration::from_secs(number("SCIMD_DB_STATEMENT_TIMEOUT_SECS", 10, 1, 3600));
        let request_timeout =
            std::time::Duration::from_secs(number("SCIMD_REQUEST_TIMEOUT_SECS", 30, 1, 3600));
        let max_body_bytes = sat_usize(number("SCIMD_MAX_BODY_BYTES", 1 << 20, 1024, 1 << 30));
        let default_page_size = number("SCIMD_DEFAULT_PAGE_SIZE", 100, 1, 100_000);
        let max_page_size = number("SCIMD_MAX_PAGE_SIZE", 1000, 1, 100_000);
        let group_patch_member_limit =
            number("SCIMD_GROUP_PATCH_MEMBER_LIMIT", 1000, 0, 10_000_000);
        let bulk_max_operations = sat_usize(number("SCIMD_BULK_MAX_OPERATIONS", 1000, 0, 100_000));
        let rate_limit_per_second = number("SCIMD_RATE_LIMIT_PER_SECOND", 500, 0, 1_000_000) as f64;
        let rate_limit_burst = number("SCIMD_RATE_LIMIT_BURST", 1000, 1, 10_000_000) as f64;
        let oauth_tokens_per_minute =
            number("SCIMD_OAUTH_TOKENS_PER_MINUTE", 60, 0, 1_000_000) as f64;
        let webhook_retry_base =
            std::time::Duration::from_secs(number("SCIMD_WEBHOOK_RETRY_BASE_SECS", 5, 1, 3600));
        let webhook_timeout =
            std::time::Duration::from_secs(number("SCIMD_WEBHOOK_TIMEOUT_SECS", 10, 1, 60));
        let activity_queue = sat_usize(number("SCIMD_ACTIVITY_QUEUE", 10_000, 1, 10_000_000));
        let activity_flush =
            std::time::Duration::from_millis(number("SCIMD_ACTIVITY_FLUSH_MS", 200, 10, 60_000));
        let activity_silent_after = std::time::Duration::from_secs(number(
            "SCIMD_ACTIVITY_SILENT_SECS",
            2400,
            1,
            7 * 86_400,
        ));
        let webhook_poll = match number("SCIMD_WEBHOOK_POLL_MS", 250, 0, 60_000) {
            0 => None,
            ms => Some(std::time::Duration::from_millis(ms)),
        };
        let set_long_poll =
            std::time::Duration::from_secs(number("SCIMD_SET_LONG_POLL_SECS", 20, 0, 300));
        let federation_jwks_hosts: Vec<String> = get("SCIMD_FEDERATION_JWKS_HOSTS")
            .unwrap_or_else(|| "login.microsoftonline.com".into())
            .split(',')
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect();
        let federation_jwks_min_refresh = std::time::Duration::from_secs(number(
            "SCIMD_FEDERATION_JWKS_MIN_REFRESH_SECS",
            60,
            0,
            86_400,
        ));
        let filter_max_length = sat_usize(number("SCIMD_FILTER_MAX_LENGTH", 8192, 16, 1 << 20));
        let auth_failure_burst = number("SCIMD_AUTH_FAILURE_BURST", 20, 1, 1_000_000) as f64;
        let auth_failures_per_minute =
            number("SCIMD_AUTH_FAILURES_PER_MINUTE", 10, 0, 1_000_000) as f64;
        let max_value_bytes = sat_usize(number("SCIMD_MAX_VALUE_BYTES", 65536, 16, 1 << 24));
        let max_multi_values = sat_usize(number("SCIMD_MAX_MULTI_VALUES", 1000, 1, 1_000_000));
        let mail_max_attempts = sat_u32(number("SCIMD_MAIL_MAX_ATTEMPTS", 8, 1, 100));
        let mail_retry =
            std::time::Duration::from_secs(number("SCIMD_MAIL_RETRY_SECS", 60, 1, 86_400));
        let console_idle_minutes = number("SCIMD_CONSOLE_IDLE_MINUTES", 30, 1, 24 * 60);
        let console_absolute_hours = number("SCIMD_CONSOLE_ABSOLUTE_HOURS", 12, 1, 24 * 30);
        let workers = get("SCIMD_WORKERS").map(|_| sat_usize(number("SCIMD_WORKERS", 0, 1, 1024)));
        let mut flag = |name: &str, default: bool| -> bool {
            match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => default,
                Some("true" | "1" | "yes" | "on") => true,
                Some("false" | "0" | "no" | "off") => false,
                Some(other) => {
                    errors.push(format!("{name}: '{other}' is not true or false"));
                    default
                }
            }
        };
        let capture_events = flag("SCIMD_EVENTS_CAPTURE", true);
        let activity = flag("SCIMD_ACTIVITY", true);
        let webhook_allow_http = flag("SCIMD_WEBHOOK_ALLOW_HTTP", false);
        let webhook_allow_private = flag("SCIMD_WEBHOOK_ALLOW_PRIVATE", false);
        let console_secure_cookies = match get("SCIMD_CONSOLE_SECURE_COOKIES")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => None,
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no" | "off") => Some(false),
            Some(other) => {
                errors.push(format!(
                    "SCIMD_CONSOLE_SECURE_COOKIES: '{other}' is not auto, true or false"
                ));
                None
            }
        };
        for host in &federation_jwks_hosts {
            if host.contains('/') || host.contains('@') || host.contains(char::is_whitespace) {
                errors.push(format!(
                    "SCIMD_FEDERATION_JWKS_HOSTS: '{host}' is not host or host:port"
                ));
            }
        }
        if default_page_size > max_page_size {
            errors.push("SCIMD_DEFAULT_PAGE_SIZE must not exceed SCIMD_MAX_PAGE_SIZE".into());
        }

        match (listen, errors.is_empty()) {
            (Some(listen), true) => Ok((
                Self {
                    database_url: DatabaseUrl(database_url),
                    db_max_connections,
                    db_timeout,
                    db_statement_timeout,
                    request_timeout,
                    listen,
                    public_url,
                    trusted_proxies,
                    metrics_listen,
                    bootstrap,
                    admin_email,
                    max_body_bytes,
                    default_page_size,
                    max_page_size,
                    group_patch_member_limit,
                    bulk_max_operations,
                    rate_limit_per_second,
                    rate_limit_burst,
                    oauth_tokens_per_minute,
                    capture_events,
                    activity,
                    activity_queue,
                    activity_flush,
                    activity_silent_after,
                    webhook_allow_http,
                    webhook_allow_private,
                    webhook_retry_base,
                    webhook_timeout,
                    webhook_poll,
                    set_long_poll,
                    federation_jwks_hosts,
                    federation_jwks_min_refresh,
                    filter_max_length,
                    auth_failure_burst,
                    auth_failures_per_minute,
                    max_value_bytes,
                    max_multi_values,
                    workers,
                    operator_token: operator_token.map(Secret),
                    smtp_url: smtp_url.map(Secret),
                    mail_from,
                    mail_max_attempts,
                    mail_retry,
                    expiry_interval,
                    console_idle_minutes,
                    console_absolute_hours,
                    console_secure_cookies,
                },
                warnings,
            )),
            _ => Err(ConfigError(errors)),
        }
    }

    /// The folder a SQLite database file lives in, so it can be created before connecting.
    pub fn sqlite_dir(&self) -> Option<PathBuf> {
        let url = self.database_url.expose();
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next().unwrap_or("");
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        PathBuf::from(path).parent().map(PathBuf::from)
    }
}

/// `n` as a `u32`: every caller bounds `n` far below `u32::MAX` (the ranges of `number`).
fn sat_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `n` as a `usize`, saturating on a 32-bit target.
fn sat_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_setup() {
        let (c, warnings) = Config::from_vars(vars(&[])).expect("valid");
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.bootstrap);
        assert!(warnings.is_empty());
        assert_eq!(c.sqlite_dir(), Some(PathBuf::from("./data")));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let err = Config::from_vars(vars(&[
            ("SCIMD_LISTEN", "nowhere"),
            ("SCIMD_BOOTSTRAP", "maybe"),
            ("SCIMD_MAX_PAGE_SIZE", "0"),
            ("SCIMD_DATABASE_URL", "mysql://x"),
        ]))
        .expect_err("invalid");
        assert_eq!(err.0.len(), 4, "{err}");
    }

    #[test]
    fn unknown_variables_are_warned_about() {
        let (_, warnings) = Config::from_vars(vars(&[("SCIMD_LISTN", "x")])).expect("valid");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("SCIMD_LISTN"));
        let (_, warnings) =
            Config::from_vars(vars(&[("SCIMD_SMTP_URL", "smtp://mail.example.test:25")]))
                .expect("valid");
        assert!(
            warnings.iter().any(|w| w.contains("SCIMD_MAIL_FROM")),
            "{warnings:?}"
        );
        let (_, warnings) = Config::from_vars(vars(&[
            ("SCIMD_SMTP_URL", "smtp://mail.example.test:25"),
            ("SCIMD_MAIL_FROM", "scimd@example.test"),
        ]))
        .expect("valid");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn operator_token_comes_from_a_variable_or_a_file_and_is_redacted() {
        let token = "op-token-0123456789-0123456789-0123456789";
        let (c, _) = Config::from_vars(vars(&[("SCIMD_OPERATOR_TOKEN", token)])).expect("valid");
        assert_eq!(c.operator_token.as_ref().map(Secret::expose), Some(token));
        assert!(!format!("{c:?}").contains(token));
        let file = std::env::temp_dir().join(format!("scimd-op-{}", std::process::id()));
        std::fs::write(&file, format!("{token}\n")).expect("write");
        let path = file.display().to_string();
        let (c, _) =
            Config::from_vars(vars(&[("SCIMD_OPERATOR_TOKEN_FILE", &path)])).expect("valid");
        assert_eq!(c.operator_token.as_ref().map(Secret::expose), Some(token));
        let err = Config::from_vars(vars(&[
            ("SCIMD_OPERATOR_TOKEN_FILE", &path),
            ("SCIMD_OPERATOR_TOKEN", token),
        ]))
        .expect_err("both");
        assert!(err.to_string().contains("not both"));
        let _ = std::fs::remove_file(file);
        let err = Config::from_vars(vars(&[("SCIMD_OPERATOR_TOKEN", "short")])).expect_err("short");
        assert!(err.to_string().contains("at least 32"), "{err}");
    }

    #[test]
    fn expiry_and_mail_settings_are_read_and_the_smtp_password_is_redacted() {
        let (c, _) = Config::from_vars(vars(&[])).expect("valid");
        assert_eq!(
            c.expiry_interval,
            Some(std::time::Duration::from_secs(3600))
        );
        assert!(c.smtp_url.is_none());
        let (c, _) = Config::from_vars(vars(&[
            (
                "SCIMD_SMTP_URL",
                "smtps://scimd:pa55word@mail.example.com:465",
            ),
            ("SCIMD_MAIL_FROM", "scimd@example.com"),
            ("SCIMD_EXPIRY_INTERVAL", "15m"),
        ]))
        .expect("valid");
        assert_eq!(c.expiry_interval, Some(std::time::Duration::from_secs(900)));
        assert!(!format!("{c:?}").contains("pa55word"));
        let (c, _) = Config::from_vars(vars(&[("SCIMD_EXPIRY_INTERVAL", "0")])).expect("valid");
        assert_eq!(c.expiry_interval, None);
        let err = Config::from_vars(vars(&[
            ("SCIMD_SMTP_URL", "http://mail"),
            ("SCIMD_EXPIRY_INTERVAL", "soon"),
            ("SCIMD_MAIL_FROM", "nobody"),
        ]))
        .expect_err("invalid");
        assert_eq!(err.0.len(), 3, "{err}");
    }

    #[test]
    fn database_password_is_redacted() {
        let (c, _) = Config::from_vars(vars(&[(
            "SCIMD_DATABASE_URL",
            "postgres://scimd:s3cret@db:5432/scimd",
        )]))
        .expect("valid");
        let shown = format!("{:?} {}", c, c.database_url);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://scimd:***@db:5432/scimd"));
    }
}
