//! Hand-written HTML: one escaping function, the page layout, and small builders shared by the
//! pages. Every value that comes from data goes through [`esc`]; nothing else builds markup.

use chrono::{DateTime, Utc};

use crate::{
    session::Ctx,
    text::{Lang, T},
};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value.
pub fn url_enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A time as shown in tables (UTC, to the minute).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A date (for "will be deleted on").
pub fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The key pages.
    Keys,
    /// The machine pages.
    Machines,
    /// Settings.
    Settings,
    /// Audit.
    Audit,
    /// The directory's users.
    Users,
    /// The directory's groups.
    Groups,
}

/// The hidden CSRF field of a session's forms.
pub fn csrf_field(ctx: &Ctx) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&ctx.csrf)
    )
}

/// The language switcher: a link to the other language that comes back to `path`.
pub fn switcher(lang: Lang, path: &str) -> String {
    let other = lang.other();
    format!(
        r#"<a class="lang" href="/console/lang?l={}&amp;next={}" lang="{}" hreflang="{}">{}</a>"#,
        other.code(),
        url_enc(path),
        other.code(),
        other.code(),
        T::SwitchTo.get(lang)
    )
}

/// A whole page of a signed-in session.
pub fn page(ctx: &Ctx, nav: Nav, title: &str, flash: Option<&str>, body: &str) -> String {
    let l = ctx.lang;
    let mut links = String::new();
    for (entry, text, href, allowed) in [
        (
            Nav::Keys,
            T::Keys,
            "/console/keys",
            ctx.may(scim_auth::API_KEY_READ),
        ),
        (
            Nav::Machines,
            T::Machines,
            "/console/machines",
            ctx.may(scim_auth::MACHINE_READ),
        ),
        (
            Nav::Settings,
            T::Settings,
            "/console/settings",
            ctx.may(scim_auth::SETTINGS_READ),
        ),
        (
            Nav::Audit,
            T::Audit,
            "/console/audit",
            ctx.may(scim_auth::AUDIT_READ),
        ),
        (
            Nav::Users,
            T::Users,
            "/console/users",
            ctx.may(scim_auth::DIRECTORY_READ),
        ),
        (
            Nav::Groups,
            T::Groups,
            "/console/groups",
            ctx.may(scim_auth::DIRECTORY_READ),
        ),
    ] {
        if !allowed {
            continue;
        }
        let current = if entry == nav {
            r#" aria-current="page""#
        } else {
            ""
        };
        links.push_str(&format!(
            r#"<li><a href="{href}"{current}>{}</a></li>"#,
            text.get(l)
        ));
    }
    let header = format!(
        r#"<header class="top"><div class="brand"><span class="logo" aria-hidden="true">◆</span> scimd <span class="sub">{console}</span></div>
<nav aria-label="{console}"><ul>{links}</ul></nav>
<div class="who"><span class="tenant">{tenant_label}: <strong>{tenant}</strong></span> <span class="actor">{actor}</span>
{switcher}
<form method="post" action="/console/logout" class="inline">{csrf}<button type="submit" class="btn btn-quiet">{sign_out}</button></form></div></header>"#,
        console = T::Console.get(l),
        tenant_label = T::Tenant.get(l),
        tenant = esc(ctx.tenant.as_str()),
        actor = esc(&ctx.caller.actor.name),
        switcher = switcher(l, &ctx.path),
        csrf = csrf_field(ctx),
        sign_out = T::SignOut.get(l),
    );
    // Keys about to expire: a banner on every page, so that no admin misses it.
    let banner = match ctx.expiring {
        Some((n, first)) if n > 0 => format!(
            r#"<p class="banner" role="alert">{}</p>"#,
            esc(&T::ExpiringBanner
                .get(l)
                .replace("{n}", &n.to_string())
                .replace("{date}", &first.format("%Y-%m-%d %H:%M UTC").to_string()))
        ),
        _ => String::new(),
    };
    let header = format!("{header}\n{banner}");
    document(l, title, &header, flash, body)
}

/// A page with the layout's head and skip link, around `header` and `body`.
pub fn document(l: Lang, title: &str, header: &str, flash: Option<&str>, body: &str) -> String {
    let flash = flash
        .map(|f| format!(r#"<p class="flash" role="status">{}</p>"#, esc(f)))
        .unwrap_or_default();
    format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · scimd</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">{skip}</a>
{header}
<main id="main" tabindex="-1">
<h1>{title}</h1>
{flash}
{body}
</main>
<dialog id="console-dialog" aria-modal="true"></dialog>
</body>
</html>
"##,
        lang = l.code(),
        title = esc(title),
        skip = T::SkipToContent.get(l),
    )
}

/// An error message block (`role="alert"`).
pub fn alert(message: &str) -> String {
    format!(r#"<p class="alert" role="alert">{}</p>"#, esc(message))
}

/// A checkbox styled as a switch, with its label.
pub fn switch(name: &str, id: &str, label: &str, checked: bool, extra: &str) -> String {
    format!(
        r#"<label class="switch" for="{id}"><input type="checkbox" role="switch" id="{id}" name="{name}" value="on"{}{extra}><span class="track" aria-hidden="true"></span> <span>{}</span></label>"#,
        if checked { " checked" } else { "" },
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_enc("a b/é"), "a%20b%2F%C3%A9");
    }
}
