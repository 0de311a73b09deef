//! Logging: initialised once, filtered by `SCIMD_LOG` (or `RUST_LOG`), one span per request
//! carrying its id and tenant; plain text by default (coloured on a terminal only), one JSON
//! object per line with `SCIMD_LOG_FORMAT=json` (`{"timestamp", "level", "message", …,
//! "span": {"id", "tenant"}}`). Nothing here records an `Authorization` header, a token or a hash.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is a no-op.
pub fn init() {
    let filter = std::env::var("SCIMD_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("SCIMD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colour codes only on a terminal: piped into a file or a log shipper they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if json {
        // `{"timestamp", "level", "message", ...}`: the message at the top level, as log
        // shippers expect, the request span (id, tenant) beside it.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
