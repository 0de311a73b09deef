//! The text of expiry mails, plain and HTML, in English and French (the tenant's `locale`).
//! Built from the notice alone: a key's value or hint is never available here, so it can never
//! be written into a mail.

use chrono::{DateTime, Duration, Utc};
use scim_store::{ExpiryNotice, NoticeKind};

/// A mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (same content).
    pub html: String,
}

/// The strings of one language.
struct Words {
    subject_expiring: &'static str,
    subject_expired: &'static str,
    hello: &'static str,
    expiring: &'static str,
    expired: &'static str,
    name: &'static str,
    label: &'static str,
    scope: &'static str,
    machine: &'static str,
    tenant: &'static str,
    expires: &'static str,
    deleted: &'static str,
    at_expiry_title: &'static str,
    at_expiry: &'static str,
    replace_title: &'static str,
    replace: &'static str,
    console: &'static str,
    footer: &'static str,
    none: &'static str,
    day: &'static str,
    days: &'static str,
}

const EN: Words = Words {
    subject_expiring: "API key \"{name}\" expires in {days}",
    subject_expired: "API key \"{name}\" has expired",
    hello: "Hello,",
    expiring: "The API key \"{name}\" of tenant {tenant} expires in {days}, on {date}.",
    expired: "The API key \"{name}\" of tenant {tenant} expired on {date} and no longer works.",
    name: "Name",
    label: "Label",
    scope: "Scope",
    machine: "Machine",
    tenant: "Tenant",
    expires: "Expires",
    deleted: "Deleted on",
    at_expiry_title: "What happens at expiry",
    at_expiry: "From the expiry date the key stops working: every request made with it is refused \
                (401 Unauthorized), so an identity provider or script that uses it stops \
                provisioning. The key stays listed as expired until {deletion}, then it is \
                deleted for good.",
    replace_title: "How to replace it",
    replace: "Rotate the key with a grace period (console: the key's page, Rotate; admin API: \
              POST .../apiKeys/{name}/rotate with gracePeriodMinutes; CLI: scimd key rotate \
              --grace-minutes 60): it keeps its name, scope and permissions and gets a new \
              value and a new year, and the old value keeps working during the grace period. \
              Put the new value in the identity provider or script that uses this key (in \
              Microsoft Entra ID: the application's Provisioning page, Admin Credentials, \
              Secret Token) and test the connection before the grace period ends. No need to \
              create a new key and revoke this one.",
    console: "Console",
    footer: "This message was sent by scimd to the administrator address of the tenant. It \
             never contains a key's value.",
    none: "none",
    day: "day",
    days: "days",
};

const FR: Words = Words {
    subject_expiring: "La clé d'API « {name} » expire dans {days}",
    subject_expired: "La clé d'API « {name} » a expiré",
    hello: "Bonjour,",
    expiring: "La clé d'API « {name} » du tenant {tenant} expire dans {days}, le {date}.",
    expired: "La clé d'API « {name} » du tenant {tenant} a expiré le {date} et ne fonctionne plus.",
    name: "Nom",
    label: "Libellé",
    scope: "Portée",
    machine: "Machine",
    tenant: "Tenant",
    expires: "Expiration",
    deleted: "Suppression le",
    at_expiry_title: "Ce qui se passe à l'expiration",
    at_expiry: "À la date d'expiration, la clé cesse de fonctionner : toute requête faite avec \
                elle est refusée (401 Unauthorized), et le fournisseur d'identité ou le script \
                qui l'utilise cesse de provisionner. La clé reste affichée comme expirée \
                jusqu'au {deletion}, puis elle est supprimée définitivement.",
    replace_title: "Comment la remplacer",
    replace: "Faites tourner la clé avec une période de grâce (console : page de la clé, \
              Renouveler ; API d'administration : POST .../apiKeys/{name}/rotate avec \
              gracePeriodMinutes ; CLI : scimd key rotate --grace-minutes 60) : elle garde son \
              nom, sa portée et ses permissions, reçoit une nouvelle valeur valable un an, et \
              l'ancienne valeur fonctionne encore pendant la période de grâce. Placez la \
              nouvelle valeur dans le fournisseur d'identité ou le script qui utilise cette clé \
              (dans Microsoft Entra ID : page Approvisionnement de l'application, Informations \
              d'identification de l'administrateur, Jeton secret) et testez la connexion avant \
              la fin de la période de grâce. Inutile de créer une nouvelle clé puis de révoquer \
              celle-ci.",
    console: "Console",
    footer: "Ce message a été envoyé par scimd à l'adresse d'administration du tenant. Il ne \
             contient jamais la valeur d'une clé.",
    none: "aucune",
    day: "jour",
    days: "jours",
};

fn words(locale: &str) -> &'static Words {
    if locale.to_ascii_lowercase().starts_with("fr") {
        &FR
    } else {
        &EN
    }
}

fn scope_name(scope: &str, fr: bool) -> &'static str {
    match (scope, fr) {
        ("scim", _) => "SCIM",
        ("on_premise", false) => "On premise",
        ("on_premise", true) => "Sur site",
        ("public_api", false) => "Public API",
        ("public_api", true) => "API publique",
        _ => "?",
    }
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the mail of `notice`. `retention` is how long expired keys are kept; `console_url`
/// is the console's address, when scimd knows its public URL.
pub fn render(
    notice: &ExpiryNotice,
    retention: Duration,
    console_url: Option<&str>,
) -> RenderedMail {
    if notice.kind == NoticeKind::DestinationFailing {
        return render_failing(notice, console_url);
    }
    let fr = notice.locale.to_ascii_lowercase().starts_with("fr");
    let w = words(&notice.locale);
    let n = notice.threshold_days;
    let days = format!("{n} {}", if n == 1 { w.day } else { w.days });
    let fill = |template: &str| {
        template
            .replace("{name}", &notice.key_name)
            .replace("{tenant}", notice.tenant_id.as_str())
            .replace("{days}", &days)
            .replace("{date}", &date(notice.key_expires_at))
            .replace("{deletion}", &date(notice.key_expires_at + retention))
    };
    let (subject, lead) = if n > 0 {
        (fill(w.subject_expiring), fill(w.expiring))
    } else {
        (fill(w.subject_expired), fill(w.expired))
    };
    let rows: Vec<(&str, String)> = vec![
        (w.name, notice.key_name.clone()),
        (
            w.label,
            notice.key_label.clone().unwrap_or_else(|| w.none.into()),
        ),
        (w.scope, scope_name(&notice.key_scope, fr).into()),
        (
            w.machine,
            notice.machine_name.clone().unwrap_or_else(|| w.none.into()),
        ),
        (w.tenant, notice.tenant_id.as_str().into()),
        (w.expires, date(notice.key_expires_at)),
        (w.deleted, date(notice.key_expires_at + retention)),
    ];
    let at_expiry = fill(w.at_expiry);

    let mut text = format!("{}\n\n{lead}\n\n", w.hello);
    for (k, v) in &rows {
        text.push_str(&format!("  {k}: {v}\n"));
    }
    text.push_str(&format!(
        "\n{}\n{at_expiry}\n\n{}\n{}\n",
        w.at_expiry_title, w.replace_title, w.replace
    ));
    if let Some(url) = console_url {
        text.push_str(&format!("{}: {url}\n", w.console));
    }
    text.push_str(&format!("\n-- \n{}\n", w.footer));

    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;color:#1a1a1a\"><p>{}</p><p><strong>{}</strong></p>\
         <table style=\"border-collapse:collapse\">",
        if fr { "fr" } else { "en" },
        escape(&subject),
        escape(w.hello),
        escape(&lead)
    );
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th style=\"text-align:left;padding:2px 12px 2px 0\">{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    html.push_str(&format!(
        "</table><h3>{}</h3><p>{}</p><h3>{}</h3><p>{}</p>",
        escape(w.at_expiry_title),
        escape(&at_expiry),
        escape(w.replace_title),
        escape(w.replace)
    ));
    if let Some(url) = console_url {
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(w.console)
        ));
    }
    html.push_str(&format!(
        "<hr><p style=\"color:#555;font-size:small\">{}</p></body></html>",
        escape(w.footer)
    ));
    RenderedMail {
        subject: format!("[scimd] {subject}"),
        text,
        html,
    }
}

/// The mail of a webhook endpoint or pushed event stream failing for a day (issue 20): what
/// fails since when, that nothing is lost, and what to do.
fn render_failing(notice: &ExpiryNotice, console_url: Option<&str>) -> RenderedMail {
    let fr = notice.locale.to_ascii_lowercase().starts_with("fr");
    let what = match (notice.key_scope.as_str(), fr) {
        ("event_stream", false) => "event stream",
        ("event_stream", true) => "flux d'événements",
        (_, false) => "webhook endpoint",
        (_, true) => "point de terminaison webhook",
    };
    let url = notice.key_label.clone().unwrap_or_default();
    let since = date(notice.key_expires_at);
    let tenant = notice.tenant_id.as_str();
    let (subject, lead, body, hello, footer) = if fr {
        (
            format!("Le {what} {url} échoue depuis le {since}"),
            format!(
                "Le {what} {url} du tenant {tenant} (id {}) refuse ou ne reçoit plus les                  événements de provisionnement depuis le {since}.",
                notice.api_key_id
            ),
            "Aucun événement n'est perdu : ils attendent, dans l'ordre, et scimd réessaie (au              plus une fois par heure). Corrigez le destinataire (les dernières tentatives et              leur erreur sont dans la console, page Événements, et dans l'API d'administration,              .../attempts), ou désactivez-le s'il n'est plus utilisé."
                .to_owned(),
            "Bonjour,",
            "Ce message a été envoyé par scimd à l'adresse d'administration du tenant.",
        )
    } else {
        (
            format!("The {what} {url} has been failing since {since}"),
            format!(
                "The {what} {url} of tenant {tenant} (id {}) has refused or not received the                  provisioning events since {since}.",
                notice.api_key_id
            ),
            "No event is lost: they wait, in order, and scimd keeps trying (at most once an              hour). Fix the receiver (the latest attempts and their errors are in the console,              Events page, and in the admin API, .../attempts), or disable it if it is no longer              used."
                .to_owned(),
            "Hello,",
            "This message was sent by scimd to the administrator address of the tenant.",
        )
    };
    let mut text = format!("{hello}\n\n{lead}\n\n{body}\n");
    if let Some(c) = console_url {
        text.push_str(&format!("\nConsole: {c}\n"));
    }
    text.push_str(&format!("\n-- \n{footer}\n"));
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;color:#1a1a1a\"><p>{}</p><p><strong>{}</strong></p>\
         <p>{}</p>",
        if fr { "fr" } else { "en" },
        escape(&subject),
        escape(hello),
        escape(&lead),
        escape(&body)
    );
    if let Some(c) = console_url {
        html.push_str(&format!("<p><a href=\"{}\">Console</a></p>", escape(c)));
    }
    html.push_str(&format!(
        "<hr><p style=\"color:#555;font-size:small\">{}</p></body></html>",
        escape(footer)
    ));
    RenderedMail {
        subject: format!("[scimd] {subject}"),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_store::{NoticeStatus, TenantId};

    fn notice(locale: &str, threshold: i32, label: Option<&str>) -> ExpiryNotice {
        let at = DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        ExpiryNotice {
            id: "n1".into(),
            tenant_id: TenantId::parse("acme").unwrap(),
            api_key_id: "k1".into(),
            key_name: "entra-prod".into(),
            key_label: label.map(str::to_owned),
            key_scope: "scim".into(),
            machine_name: Some("entra".into()),
            key_expires_at: at,
            threshold_days: threshold,
            recipient: Some("admin@acme.example".into()),
            locale: locale.into(),
            status: NoticeStatus::Queued,
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            created_at: at,
            sent_at: None,
            kind: NoticeKind::KeyExpiry,
        }
    }

    #[test]
    fn a_failing_destination_mail_says_what_since_when_and_that_nothing_is_lost() {
        let mut n = notice("en", 0, Some("https://hooks.example.com/<x>"));
        n.kind = NoticeKind::DestinationFailing;
        n.key_scope = "webhook".into();
        let m = render(&n, Duration::days(90), None);
        assert_eq!(
            m.subject,
            "[scimd] The webhook endpoint https://hooks.example.com/<x> has been failing since 2027-03-01 10:00 UTC"
        );
        assert!(m.text.contains("No event is lost"), "{}", m.text);
        assert!(
            m.html.contains("https://hooks.example.com/&lt;x&gt;"),
            "{}",
            m.html
        );
        n.locale = "fr".into();
        n.key_scope = "event_stream".into();
        let m = render(&n, Duration::days(90), None);
        assert!(m.subject.contains("flux d'événements"), "{}", m.subject);
        assert!(m.text.contains("Aucun événement n'est perdu"), "{}", m.text);
    }

    #[test]
    fn english_warning_says_what_when_and_how_to_replace() {
        let m = render(
            &notice("en", 7, Some("Entra production")),
            Duration::days(90),
            Some("https://scim.acme.example/console/"),
        );
        assert_eq!(
            m.subject,
            "[scimd] API key \"entra-prod\" expires in 7 days"
        );
        for needle in [
            "entra-prod",
            "Entra production",
            "SCIM",
            "Machine: entra",
            "2027-03-01 10:00 UTC",
            "2027-05-30 10:00 UTC",
            "401 Unauthorized",
            "Rotate the key with a grace period",
            "scimd key rotate --grace-minutes",
            "https://scim.acme.example/console/",
        ] {
            assert!(m.text.contains(needle), "text lacks {needle}:\n{}", m.text);
        }
        assert!(m.html.contains("Entra production"));
    }

    #[test]
    fn french_mails_are_french_and_singular_days_are_singular() {
        let m = render(&notice("fr-FR", 1, None), Duration::days(90), None);
        assert_eq!(
            m.subject,
            "[scimd] La clé d'API « entra-prod » expire dans 1 jour"
        );
        assert!(m.text.contains("Libellé: aucune"), "{}", m.text);
        assert!(m
            .text
            .contains("Faites tourner la clé avec une période de grâce"));
        assert!(m.html.starts_with("<!DOCTYPE html><html lang=\"fr\">"));
        let expired = render(&notice("fr", 0, None), Duration::days(90), None);
        assert!(expired.subject.contains("a expiré"), "{}", expired.subject);
    }

    #[test]
    fn labels_are_escaped_in_html() {
        let m = render(
            &notice("en", 30, Some("<script>alert(1)</script> & co")),
            Duration::days(90),
            None,
        );
        assert!(!m.html.contains("<script>"));
        assert!(m
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    }
}
