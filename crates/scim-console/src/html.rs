//! The page layout and small builders shared by the pages, as maud templates (`html!`): every
//! value spliced into a template is escaped, so no page can forget to. Nothing in the console
//! builds markup by formatting strings.

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use crate::{
    session::Ctx,
    text::{Lang, T},
};

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
    /// Provisioning events and webhooks.
    Events,
    /// Provisioning activity.
    Activity,
    /// The directory's users.
    Users,
    /// The directory's groups.
    Groups,
}

/// The hidden CSRF field of a session's forms.
pub fn csrf_input(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// The language switcher: a link to the other language that comes back to `path`.
pub fn switcher(lang: Lang, path: &str) -> Markup {
    let other = lang.other();
    html! {
        a.lang href={ "/console/lang?l=" (other.code()) "&next=" (url_enc(path)) }
            lang=(other.code()) hreflang=(other.code()) { (T::SwitchTo.get(lang)) }
    }
}

/// The navigation entries: page, text, address and the permission that shows it.
const NAV: [(Nav, T, &str, &str); 8] = [
    (Nav::Keys, T::Keys, "/console/keys", scim_auth::API_KEY_READ),
    (
        Nav::Machines,
        T::Machines,
        "/console/machines",
        scim_auth::MACHINE_READ,
    ),
    (
        Nav::Settings,
        T::Settings,
        "/console/settings",
        scim_auth::SETTINGS_READ,
    ),
    (
        Nav::Audit,
        T::Audit,
        "/console/audit",
        scim_auth::AUDIT_READ,
    ),
    (
        Nav::Events,
        T::Events,
        "/console/events",
        scim_auth::EVENTS_READ,
    ),
    (
        Nav::Activity,
        T::Activity,
        "/console/activity",
        scim_auth::ACTIVITY_READ,
    ),
    (
        Nav::Users,
        T::Users,
        "/console/users",
        scim_auth::DIRECTORY_READ,
    ),
    (
        Nav::Groups,
        T::Groups,
        "/console/groups",
        scim_auth::DIRECTORY_READ,
    ),
];

/// Where a session holding `granted` lands: the first page it may see (the keys for an admin;
/// the users for a key that may only read the directory).
pub fn landing(granted: &[String]) -> &'static str {
    NAV.iter()
        .find(|(_, _, _, permission)| scim_auth::grants(granted, permission))
        .map_or("/console/keys", |(_, _, href, _)| href)
}

/// A whole page of a signed-in session around `body`.
pub fn page(ctx: &Ctx, nav: Nav, title: &str, flash: Option<&str>, body: Markup) -> String {
    let l = ctx.lang;
    let console = T::Console.get(l);
    let header = html! {
        header.top {
            div.brand { span.logo aria-hidden="true" { "◆" } " scimd " span.sub { (console) } }
            nav aria-label=(console) {
                ul {
                    @for (entry, text, href, permission) in NAV {
                        @if ctx.may(permission) {
                            li {
                                @if entry == nav {
                                    a href=(href) aria-current="page" { (text.get(l)) }
                                } @else {
                                    a href=(href) { (text.get(l)) }
                                }
                            }
                        }
                    }
                }
            }
            div.who {
                span.tenant { (T::Tenant.get(l)) ": " strong { (ctx.tenant.as_str()) } }
                " "
                span.actor { (ctx.caller.actor.name) }
                "\n"
                (switcher(l, &ctx.path))
                "\n"
                form.inline method="post" action="/console/logout" {
                    (csrf_input(ctx))
                    button.btn.btn-quiet type="submit" { (T::SignOut.get(l)) }
                }
            }
        }
        // Keys about to expire: a banner on every page, so that no admin misses it.
        @if let Some((n, first)) = ctx.expiring.filter(|(n, _)| *n > 0) {
            p.banner role="alert" {
                (T::ExpiringBanner
                    .get(l)
                    .replace("{n}", &n.to_string())
                    .replace("{date}", &first.format("%Y-%m-%d %H:%M UTC").to_string()))
            }
        }
    };
    document(l, title, header, flash, body)
}

/// A page with the layout's head and skip link, around `header` and `body`.
pub fn document(l: Lang, title: &str, header: Markup, flash: Option<&str>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · scimd" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { (T::SkipToContent.get(l)) }
                (header)
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if let Some(f) = flash {
                        p.flash role="status" { (f) }
                    }
                    (body)
                }
                dialog #console-dialog aria-modal="true" {}
            }
        }
    }
    .into_string()
}

/// An error message block (`role="alert"`).
pub fn alert_box(message: &str) -> Markup {
    html! { p.alert role="alert" { (message) } }
}

/// A checkbox styled as a switch, with its label, described by the element `described_by`.
pub fn switch(
    name: &str,
    id: &str,
    label: &str,
    checked: bool,
    described_by: &str,
    disabled: bool,
) -> Markup {
    html! {
        label.switch for=(id) {
            input type="checkbox" role="switch" id=(id) name=(name) value="on" checked[checked]
                aria-describedby=(described_by) disabled[disabled];
            span.track aria-hidden="true" {}
            " "
            span { (label) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_content_and_attributes() {
        let hostile = r#"<a href="x">'&'</a>"#;
        let markup = alert_box(hostile).into_string();
        assert_eq!(
            markup,
            r#"<p class="alert" role="alert">&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;</p>"#
        );
        let switch = switch("n", "i", hostile, true, "d\"><script>", false).into_string();
        assert!(
            !switch.contains("<script>") && !switch.contains("<a href"),
            "{switch}"
        );
        assert_eq!(url_enc("a b/é"), "a%20b%2F%C3%A9");
    }
}
