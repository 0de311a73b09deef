//! Every string of the console, in English and French. A string is a variant of [`T`], so a
//! page cannot use a text that lacks a translation: the `match` would not compile.

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// French.
    Fr,
}

impl Lang {
    /// `en` or `fr`, for `<html lang>` and the switcher.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    /// Parses `en`/`fr` (and regional forms like `fr-CA`).
    pub fn parse(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }

    /// The best language of an `Accept-Language` header (by `q`, first wins on ties).
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(Self, f32)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Self::parse(tag) {
                if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                    best = Some((lang, q));
                }
            }
        }
        best.map(|(l, _)| l)
    }

    /// The other language (for the switcher).
    pub fn other(self) -> Self {
        match self {
            Self::En => Self::Fr,
            Self::Fr => Self::En,
        }
    }
}

macro_rules! texts {
    ($($id:ident => $en:literal, $fr:literal;)*) => {
        /// A text of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum T { $($id),* }

        impl T {
            /// The text in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$id, Lang::En) => $en, (T::$id, Lang::Fr) => $fr,)*
                }
            }
        }
    };
}

texts! {
    SwitchTo => "Français", "English";
    SkipToContent => "Skip to content", "Aller au contenu";
    Console => "Admin console", "Console d'administration";
    Tenant => "Tenant", "Locataire";
    Keys => "API keys", "Clés d'API";
    Machines => "Machines", "Machines";
    Settings => "Settings", "Paramètres";
    Audit => "Audit", "Audit";
    SignIn => "Sign in", "Se connecter";
    SignOut => "Sign out", "Se déconnecter";
    SignInIntro => "Sign in with an admin key (scope Public API, with tenant.* permissions) or with the operator token.",
        "Connectez-vous avec une clé d'administration (portée API publique, avec des permissions tenant.*) ou avec le jeton d'opérateur.";
    KeyOrToken => "Admin key or operator token", "Clé d'administration ou jeton d'opérateur";
    TenantForOperator => "Tenant (operator token only)", "Locataire (jeton d'opérateur uniquement)";
    SignInFailed => "Sign-in failed: the key is not valid for the console.", "Échec de la connexion : cette clé n'est pas valable pour la console.";
    SignInThrottled => "Too many failed attempts from this address; retry later.", "Trop d'échecs depuis cette adresse ; réessayez plus tard.";
    SessionEnded => "Your session has ended. Please sign in again.", "Votre session a pris fin. Veuillez vous reconnecter.";
    ExpiringBanner => "API keys of this tenant expiring within 30 days: {n}, the first on {date}. Rotate them before then (a key's page, Rotate, with a grace period), or the identity provider that uses them stops provisioning.",
        "Clés d'API de ce locataire qui expirent dans les 30 jours : {n}, la première le {date}. Faites-les tourner avant (page de la clé, Renouveler, avec une période de grâce), sinon le fournisseur d'identité qui les utilise cesse l'approvisionnement.";
    Forbidden => "Not allowed", "Non autorisé";
    ForbiddenText => "The key this session was opened with lacks the permission", "La clé de cette session n'a pas la permission";
    CsrfRejected => "This form was not sent by this console (missing or wrong form token). Nothing was changed.",
        "Ce formulaire n'a pas été envoyé par cette console (jeton de formulaire absent ou erroné). Rien n'a été modifié.";
    NotFound => "Not found", "Introuvable";
    NotFoundText => "There is nothing here.", "Il n'y a rien ici.";
    Unavailable => "The service is temporarily unavailable; retry in a moment.", "Le service est momentanément indisponible ; réessayez dans un instant.";
    BackToKeys => "Back to the keys", "Retour aux clés";
    BackToConsole => "Back to the console", "Retour à la console";
    Name => "Name", "Nom";
    NameHelp => "1–64 letters, digits, '.', '_' or '-'; cannot be changed later.", "1 à 64 lettres, chiffres, « . », « _ » ou « - » ; ne peut plus être modifié.";
    Label => "Label", "Libellé";
    Scope => "Scope", "Portée";
    Machine => "Machine", "Machine";
    Status => "Status", "Statut";
    Created => "Created", "Créée le";
    Expires => "Expires", "Expire le";
    LastUsed => "Last used", "Dernière utilisation";
    Never => "Never", "Jamais";
    Actions => "Actions", "Actions";
    All => "All", "Toutes";
    Filter => "Filter", "Filtrer";
    ScopeScim => "SCIM", "SCIM";
    ScopeOnPremise => "On Premise", "On Premise";
    ScopePublicApi => "Public API", "API publique";
    StatusActive => "Active", "Active";
    StatusInactive => "Inactive", "Inactive";
    StatusExpired => "Expired", "Expirée";
    StatusRevoked => "Revoked", "Révoquée";
    WillBeDeletedOn => "will be deleted on", "sera supprimée le";
    ExpiryWarnings => "Expiry warnings", "Avertissements d'expiration";
    NoExpiryWarnings => "None yet: the tenant's admin e-mail is warned 30, 7 and 1 day(s) before expiry.", "Aucun pour l'instant : l'adresse d'administration du tenant est prévenue 30, 7 et 1 jour(s) avant l'expiration.";
    AtExpiry => "At expiry", "À l'expiration";
    DaysBefore => "days before", "jours avant";
    OneDayBefore => "1 day before", "1 jour avant";
    WarningSent => "sent", "envoyé";
    WarningQueued => "waiting to be sent", "en attente d'envoi";
    WarningFailed => "not delivered (given up)", "non remis (abandonné)";
    WarningNoRecipient => "not sent: the tenant has no admin e-mail (see Settings)", "non envoyé : le tenant n'a pas d'adresse d'administration (voir Paramètres)";
    WarningCancelled => "cancelled (key revoked, deleted or rotated)", "annulé (clé révoquée, supprimée ou renouvelée)";
    Attempts => "attempts", "tentatives";
    NoKeys => "No API key yet.", "Aucune clé d'API pour l'instant.";
    NoKeysMatch => "No API key matches these filters.", "Aucune clé d'API ne correspond à ces filtres.";
    CreateKey => "Create a key", "Créer une clé";
    Create => "Create", "Créer";
    Cancel => "Cancel", "Annuler";
    Save => "Save", "Enregistrer";
    Edit => "Edit", "Modifier";
    Rotate => "Rotate", "Renouveler";
    Revoke => "Revoke", "Révoquer";
    RevokePermanently => "Revoke permanently", "Révoquer définitivement";
    Delete => "Delete", "Supprimer";
    DeletePermanently => "Delete permanently", "Supprimer définitivement";
    CustomAttributes => "SCIM custom attributes", "Attributs personnalisés SCIM";
    CustomAttributesNote => "This switch applies to all SCIM keys of the tenant: changing it here changes it for every SCIM key.",
        "Ce réglage s'applique à toutes les clés SCIM du locataire : le modifier ici le modifie pour toutes les clés SCIM.";
    OnPremiseOptions => "On Premise options", "Options On Premise";
    Retrieve => "Retrieve (read the provisioned directory)", "Retrieve (lire l'annuaire provisionné)";
    Push => "Push (send directory data)", "Push (envoyer les données de l'annuaire)";
    Permissions => "Permissions", "Permissions";
    AllPermissions => "All permissions (*)", "Toutes les permissions (*)";
    ScimOptions => "SCIM options", "Options SCIM";
    PublicApiOptions => "Public API permissions", "Permissions de l'API publique";
    LifetimeDays => "Lifetime in days (1–365, default 365)", "Durée de vie en jours (1 à 365, 365 par défaut)";
    NoMachine => "No machine", "Aucune machine";
    MachineIdHelp => "Machine id (optional)", "Identifiant de machine (facultatif)";
    KeyCreated => "Key created", "Clé créée";
    KeyRotated => "New key value", "Nouvelle valeur de la clé";
    SecretOnce => "Copy this secret now. It cannot be shown again: once you close this dialog it is unrecoverable.",
        "Copiez ce secret maintenant. Il ne pourra plus être affiché : une fois cette fenêtre fermée, il est irrécupérable.";
    Secret => "Secret", "Secret";
    Copy => "Copy", "Copier";
    Copied => "Copied", "Copié";
    CloseSecret => "I have copied it, close", "Je l'ai copié, fermer";
    Active => "Active", "Active";
    ActiveHelp => "An inactive key is refused until it is made active again; its value does not change.",
        "Une clé inactive est refusée jusqu'à ce qu'elle soit réactivée ; sa valeur ne change pas.";
    RevokedNoEnable => "This key is revoked: it can never be used or enabled again.", "Cette clé est révoquée : elle ne pourra plus jamais être utilisée ni réactivée.";
    EditKey => "Edit key", "Modifier la clé";
    RotateKey => "Rotate key", "Renouveler la clé";
    RotateIntro => "A new value is issued and shown once. The old value can keep working for a grace period, so a connection can be switched without downtime.",
        "Une nouvelle valeur est émise et affichée une seule fois. L'ancienne valeur peut continuer de fonctionner pendant une période de grâce, pour basculer une connexion sans interruption.";
    GracePeriod => "Grace period for the old value", "Période de grâce de l'ancienne valeur";
    GraceNone => "None (the old value stops now)", "Aucune (l'ancienne valeur cesse maintenant)";
    Grace1h => "1 hour", "1 heure";
    Grace24h => "24 hours", "24 heures";
    Grace7d => "7 days", "7 jours";
    RevokeKey => "Revoke key", "Révoquer la clé";
    RevokeConfirm => "Revoking is permanent: the key stops working at once and can never be enabled again. It stays listed until its purge date.",
        "La révocation est définitive : la clé cesse de fonctionner immédiatement et ne pourra jamais être réactivée. Elle reste listée jusqu'à sa date de purge.";
    DeleteKey => "Delete key", "Supprimer la clé";
    DeleteKeyConfirm => "The key is removed and stops working at once. This cannot be undone.",
        "La clé est supprimée et cesse de fonctionner immédiatement. Cette action est irréversible.";
    Saved => "Saved.", "Enregistré.";
    KeyRevokedDone => "The key was revoked.", "La clé a été révoquée.";
    KeyDeletedDone => "The key was deleted.", "La clé a été supprimée.";
    Hint => "Value", "Valeur";
    ClientId => "Client ID (OAuth)", "ID client (OAuth)";
    EntraSetup => "Entra ID set-up", "Configuration dans Entra ID";
    EntraSetupIntro => "In the Microsoft Entra admin center: Enterprise applications, this application, Provisioning, Admin Credentials. Paste these values for the authentication method you choose.",
        "Dans le centre d'administration Microsoft Entra : Applications d'entreprise, cette application, Approvisionnement, Informations d'identification de l'administrateur. Collez ces valeurs selon la méthode d'authentification choisie.";
    EntraBearer => "Bearer authentication (Secret Token)", "Authentification du porteur (jeton secret)";
    EntraClientCredentials => "OAuth 2.0 client credentials grant", "Octroi d'informations d'identification du client OAuth 2.0";
    EntraTenantUrl => "Tenant URL", "URL du locataire";
    EntraSecretToken => "Secret Token", "Jeton secret";
    EntraTokenEndpoint => "Token Endpoint", "Point de terminaison du jeton";
    EntraClientIdentifier => "Client Identifier", "Identificateur client";
    EntraClientSecret => "Client Secret", "Secret client";
    EntraKeyValue => "this key's value (shown once, when the key was created or rotated)", "la valeur de cette clé (affichée une seule fois, à la création ou au renouvellement)";
    EntraCredentialsSent => "How credentials are sent: any of Basic, Body or Both.", "Mode d'envoi des informations d'identification : Basic, Body ou Both, au choix.";
    Federation => "Workload identity federation", "Fédération d'identité de charge de travail";
    FederationIntro => "Entra ID can authenticate with a token it signs instead of this key's value: in Entra, choose workload identity federation and paste the Token Endpoint and Client Identifier above; here, enter the issuer, subject and audience of the federated identity as Entra shows them. The key's value keeps working beside it.",
        "Entra ID peut s'authentifier avec un jeton qu'il signe au lieu de la valeur de cette clé : dans Entra, choisissez la fédération d'identité de charge de travail et collez le point de terminaison du jeton et l'identificateur client ci-dessus ; ici, saisissez l'émetteur, le sujet et l'audience de l'identité fédérée tels qu'Entra les affiche. La valeur de la clé continue de fonctionner.";
    EntraFederationHint => "Entra shows these fields after you copy its Issuer, JWKS URL, Subject and Audience into this key's federated credential (below).",
        "Entra affiche ces champs une fois que vous avez copié son émetteur, son URL JWKS, son sujet et son audience dans l'information d'identification fédérée de cette clé (ci-dessous).";
    FederationNone => "No federated credential: only the key's value authenticates.", "Aucune information d'identification fédérée : seule la valeur de la clé authentifie.";
    FedIssuer => "Issuer", "Émetteur";
    FedJwksUri => "JWKS URI (signing keys)", "URI JWKS (clés de signature)";
    FedSubject => "Subject", "Sujet";
    FedAudiences => "Audiences", "Audiences";
    FedAudiencesInput => "Audiences (one per line)", "Audiences (une par ligne)";
    FedSave => "Save the credential", "Enregistrer l'information d'identification";
    FedRemove => "Remove the credential", "Supprimer l'information d'identification";
    FedSaved => "Federated credential saved.", "Information d'identification fédérée enregistrée.";
    FedRemoved => "Federated credential removed.", "Information d'identification fédérée supprimée.";
    ErrJwksHost => "The host of the JWKS URI is not allowed (SCIMD_FEDERATION_JWKS_HOSTS), or the URI is not https.", "L'hôte de l'URI JWKS n'est pas autorisé (SCIMD_FEDERATION_JWKS_HOSTS), ou l'URI n'est pas en https.";
    ErrFederation => "Check the credential: every field is required, 1 to 10 audiences.", "Vérifiez l'information d'identification : tous les champs sont obligatoires, 1 à 10 audiences.";
    EntraRotateHint => "Rotate with a grace period before the key expires, then paste the new value as the secret: the Client Identifier stays the same.",
        "Renouvelez la clé avec une période de grâce avant son expiration, puis collez la nouvelle valeur comme secret : l'identificateur client ne change pas.";
    CreateMachine => "Create a machine", "Créer une machine";
    Description => "Description", "Description";
    NoMachines => "No machine yet.", "Aucune machine pour l'instant.";
    MachineKeys => "Keys", "Clés";
    MachineNoKeys => "No API key is associated with this machine", "Aucune clé API n'est associée à cette machine";
    CreateKeyForMachine => "Create a key for this machine", "Créer une clé pour cette machine";
    DeleteMachine => "Delete machine", "Supprimer la machine";
    DeleteMachineConfirm => "The machine and all its keys are deleted; the keys stop working at once.",
        "La machine et toutes ses clés sont supprimées ; les clés cessent de fonctionner immédiatement.";
    MachineDeletedDone => "The machine was deleted.", "La machine a été supprimée.";
    ScimSettings => "SCIM", "SCIM";
    CustomSchema => "Custom schema attributes", "Attributs du schéma personnalisé";
    SchemaUrn => "Schema URN", "URN du schéma";
    Type => "Type", "Type";
    MultiValued => "Multi-valued", "Multivalué";
    Yes => "Yes", "Oui";
    No => "No", "Non";
    NoAttributes => "No custom attribute is declared.", "Aucun attribut personnalisé n'est déclaré.";
    AddAttribute => "Add an attribute", "Ajouter un attribut";
    Add => "Add", "Ajouter";
    Remove => "Remove", "Retirer";
    TenantSettings => "Tenant", "Locataire";
    AdminEmail => "Admin e-mail (receives expiry warnings)", "E-mail de l'administrateur (reçoit les alertes d'expiration)";
    Locale => "Language of e-mails", "Langue des e-mails";
    When => "When", "Quand";
    Actor => "Actor", "Acteur";
    Action => "Action", "Action";
    Target => "Target", "Cible";
    Changes => "Changes", "Modifications";
    Address => "Address", "Adresse";
    NoEvents => "No audit event yet.", "Aucun événement d'audit pour l'instant.";
    Events => "Events", "Événements";
    Activity => "Activity", "Activité";
    Webhooks => "Webhook endpoints", "Points de terminaison webhook";
    NoWebhooks => "No webhook endpoint is registered (POST /api/{tenant}/admin/webhooks).", "Aucun point de terminaison webhook n'est enregistré (POST /api/{tenant}/admin/webhooks).";
    WebhookHealthy => "healthy", "en bonne santé";
    SendTestEvent => "Send a test event", "Envoyer un événement de test";
    EventStreams => "Event streams (RFC 9967 Security Event Tokens)", "Flux d'événements (jetons d'événements de sécurité, RFC 9967)";
    NoEventStreams => "No event stream (POST /api/{tenant}/admin/eventStreams).", "Aucun flux d'événements (POST /api/{tenant}/admin/eventStreams).";
    Audience => "Audience", "Audience";
    Delivery => "Delivery", "Livraison";
    Format => "Format", "Format";
    SendAgainLast => "Events of the last", "Événements de la dernière période :";
    Window1h => "hour", "heure";
    Window24h => "24 hours", "24 heures";
    Window7d => "7 days", "7 jours";
    SendAgain => "Send again", "Renvoyer";
    TestDelivered => "The test event was delivered.", "L'événement de test a été livré.";
    TestFailed => "The test event was not delivered:", "L'événement de test n'a pas été livré :";
    Resent => "Events queued to be sent again:", "Événements à renvoyer :";
    WebhookRetrying => "retrying", "nouvelle tentative";
    WebhookFailing => "failing for more than a day", "en échec depuis plus d'un jour";
    WebhookDisabled => "disabled", "désactivé";
    EventTypes => "Event types", "Types d'événements";
    LastSuccess => "Last delivery", "Dernière livraison";
    LastError => "Last error", "Dernière erreur";
    NextAttempt => "Next attempt", "Prochaine tentative";
    Sequence => "#", "n°";
    Latency => "Latency", "Latence";
    Error => "Error", "Erreur";
    RecentEvents => "Recent provisioning events", "Événements de provisionnement récents";
    EventsHint => "What identity providers changed, newest first; applications read them in order from GET /api/{tenant}/admin/events.", "Ce que les fournisseurs d'identité ont modifié, du plus récent au plus ancien ; les applications les lisent dans l'ordre avec GET /api/{tenant}/admin/events.";
    NoProvisioningEvents => "No provisioning event yet.", "Aucun événement de provisionnement pour l'instant.";
    Resource => "Resource", "Ressource";
    Previous => "Previous", "Précédent";
    Next => "Next", "Suivant";
    Page => "Page", "Page";
    Users => "Users", "Utilisateurs";
    Groups => "Groups", "Groupes";
    Search => "Search", "Rechercher";
    SearchUsers => "userName or displayName contains", "userName ou displayName contient";
    SearchGroups => "displayName contains", "displayName contient";
    Found => "{n} found", "{n} trouvé(s)";
    NoUsers => "No user matches.", "Aucun utilisateur ne correspond.";
    NoGroups => "No group matches.", "Aucun groupe ne correspond.";
    LastModified => "Last modified", "Dernière modification";
    Attributes => "Attributes", "Attributs";
    AsSent => "All attributes (JSON)", "Tous les attributs (JSON)";
    NoGroupsOfUser => "This user is in no group.", "Cet utilisateur n'est dans aucun groupe.";
    Members => "Members", "Membres";
    NoMembers => "This group has no members.", "Ce groupe n'a aucun membre.";
    Kind => "Type", "Type";
    First => "First page", "Première page";
    GraceUntil => "Old value valid until", "Ancienne valeur valable jusqu'au";
    ErrName => "The name must be 1–64 letters, digits, '.', '_' or '-'.", "Le nom doit comporter 1 à 64 lettres, chiffres, « . », « _ » ou « - ».";
    ErrNameTaken => "This name is already in use.", "Ce nom est déjà utilisé.";
    ErrLifetime => "The lifetime must be between 1 and 365 days.", "La durée de vie doit être comprise entre 1 et 365 jours.";
    ErrEscalation => "You cannot grant a permission that your own key does not hold:", "Vous ne pouvez pas accorder une permission que votre propre clé ne détient pas :";
    ErrState => "This key is revoked or expired: this action is not possible.", "Cette clé est révoquée ou expirée : cette action est impossible.";
    ErrMachine => "No such machine.", "Cette machine n'existe pas.";
    ProvisioningActivity => "Provisioning activity", "Activité de provisionnement";
    Healthy => "healthy", "en bonne santé";
    Failing => "failing", "en échec";
    Silent => "silent", "silencieux";
    RecordsDropped => "{n} activity records were not kept in the last 24 hours (the recorder was overloaded); the requests themselves were served.", "{n} enregistrements d'activité n'ont pas été conservés ces dernières 24 heures (enregistreur surchargé) ; les requêtes elles-mêmes ont été servies.";
    NoScimKeys => "No SCIM key yet: create one for your identity provider.", "Aucune clé SCIM pour l'instant : créez-en une pour votre fournisseur d'identité.";
    OAuthClient => "OAuth client", "client OAuth";
    LastHour => "Last hour", "Dernière heure";
    LastDay => "Last 24 hours", "Dernières 24 heures";
    Requests => "Requests:", "Requêtes :";
    Errors => "errors:", "erreurs :";
    LastSuccessfulRequest => "Last success", "Dernier succès";
    LastFailure => "Last failure", "Dernier échec";
    Window => "Period", "Période";
    AnyTime => "any time", "toute période";
    StatusColumn => "Status", "Statut";
    AnyStatus => "any status", "tout statut";
    Method => "Method", "Méthode";
    AnyMethod => "any method", "toute méthode";
    KeyOrClient => "Key or client", "Clé ou client";
    ResourceHistory => "Everything that happened to", "Tout ce qui est arrivé à";
    AllActivity => "All activity", "Toute l'activité";
    RequestLog => "Requests, newest first", "Requêtes, de la plus récente à la plus ancienne";
    NoActivity => "No request recorded for these filters.", "Aucune requête enregistrée pour ces filtres.";
    Request => "Request", "Requête";
    WhatHappened => "What happened", "Ce qui s'est passé";
    Older => "Older", "Plus anciennes";
    WhatToDo => "What this means and what to do", "Ce que cela signifie et que faire";
    IdentityProvider => "Identity provider", "Fournisseur d'identité";
    Detail => "Detail", "Détail";
    RequestBody => "Request body (passwords removed)", "Corps de la requête (mots de passe retirés)";
    HintUniqueness => "Another user or group already has this value (usually userName, compared without case). In the identity provider, look for a duplicate or a renamed account; if the existing user is the same person, match it (Entra ID: matching attribute; Okta: import and confirm) instead of creating it again.", "Un autre utilisateur ou groupe a déjà cette valeur (souvent userName, comparé sans tenir compte de la casse). Dans le fournisseur d'identité, cherchez un doublon ou un compte renommé ; si l'utilisateur existant est la même personne, faites-le correspondre (Entra ID : attribut de correspondance ; Okta : importer et confirmer) au lieu de le recréer.";
    HintUnknownMember => "The group named a member that does not exist here. Identity providers create users before adding them: check that the member is assigned to the application and was provisioned without error, then retry.", "Le groupe cite un membre qui n'existe pas ici. Les fournisseurs d'identité créent les utilisateurs avant de les ajouter : vérifiez que le membre est affecté à l'application et a été provisionné sans erreur, puis réessayez.";
    HintFilterRefused => "scimd refused the filter: an unknown attribute, an operator the attribute does not support, or malformed text. The detail names the problem; check the identity provider's matching attribute and mappings.", "scimd a refusé le filtre : attribut inconnu, opérateur non pris en charge par l'attribut ou texte mal formé. Le détail indique le problème ; vérifiez l'attribut de correspondance et les mappages du fournisseur d'identité.";
    HintKeyRefused => "The key or access token was refused: it is expired, revoked, disabled, or was replaced by a rotation. Create or rotate a key and paste the new secret into the identity provider's provisioning settings.", "La clé ou le jeton d'accès a été refusé : expiré, révoqué, désactivé ou remplacé par une rotation. Créez ou faites tourner une clé et collez le nouveau secret dans les paramètres de provisionnement du fournisseur d'identité.";
    HintRateLimited => "The tenant sent more requests than its rate limit allows; the identity provider retries after the Retry-After delay and nothing is lost. If it persists, spread the provisioning cycles or raise SCIMD_RATE_LIMIT_PER_SECOND.", "Le locataire a envoyé plus de requêtes que sa limite ne le permet ; le fournisseur d'identité réessaie après le délai Retry-After et rien n'est perdu. Si cela persiste, espacez les cycles de provisionnement ou augmentez SCIMD_RATE_LIMIT_PER_SECOND.";
    HintVersionConflict => "The resource changed between the identity provider's read and its write (If-Match named an older version). It reads again and retries; nothing to do unless it repeats.", "La ressource a changé entre la lecture et l'écriture du fournisseur d'identité (If-Match citait une version plus ancienne). Il relit et réessaie ; rien à faire sauf si cela se répète.";
    HintClientRefused => "The OAuth client could not authenticate at the token endpoint: a wrong, expired or rotated secret, or an assertion that does not match the key's federated credential. Check the client id and secret (or the federated credential) in the identity provider.", "Le client OAuth n'a pas pu s'authentifier au point de terminaison de jeton : secret erroné, expiré ou remplacé, ou assertion qui ne correspond pas aux identifiants fédérés de la clé. Vérifiez l'identifiant client et le secret (ou les identifiants fédérés) dans le fournisseur d'identité.";
    HintForbidden => "The key is valid but lacks the permission this request needs (scim:read for reads, scim:write for changes). Edit the key's permissions.", "La clé est valide mais n'a pas la permission nécessaire (scim:read pour lire, scim:write pour modifier). Modifiez les permissions de la clé.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
            Some(Lang::Fr)
        );
        assert_eq!(
            Lang::from_accept_language("de,en;q=0.5,fr;q=0.4"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de"), None);
        assert_eq!(Lang::from_accept_language("fr;q=0"), None);
    }
}
