//! Any text in any query parameter of `/scim/v2` and `/api` answers below 500
//! (scimd::probe, the same function the black-box property test drives).
//!
//! The first byte chooses the parameter, the rest (as UTF-8, lossily) is its value. The app
//! runs in-process on a SQLite file in the temporary directory, one per fuzzing process.
//!
//!   cd fuzz && cargo +nightly fuzz run query -- -max_total_time=600

#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

type App = Box<dyn Fn(usize, String) -> Result<u16, String>>;

fn app() -> App {
    let system = actix_rt::System::new();
    let (service, target) = system.block_on(async {
        let db = std::env::temp_dir().join(format!("scimd-fuzz-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&db);
        let vars = HashMap::from([(
            "SCIMD_DATABASE_URL".to_owned(),
            format!("sqlite://{}?mode=rwc", db.display()),
        )]);
        let (config, _) = scimd::Config::from_vars(vars).expect("config");
        let store = scimd::open_store(&config).await.expect("store");
        let tenant = scim_store::TenantId::parse("acme").expect("tenant id");
        store
            .create_tenant(&tenant, None, chrono::Utc::now())
            .await
            .expect("tenant");
        let key = |name: &str, scope| {
            let store = store.clone();
            let tenant = tenant.clone();
            let name = name.to_owned();
            async move {
                let request = scim_service::KeyRequest {
                    name,
                    label: None,
                    scope,
                    permissions: (scope == scim_auth::Scope::PublicApi)
                        .then(|| vec!["*".to_owned()]),
                    expires_in_days: None,
                };
                let (_, token) = scim_service::issue_key(&store, &tenant, request, chrono::Utc::now())
                    .await
                    .expect("key");
                token.expose().to_owned()
            }
        };
        let scim_key = key("entra", scim_auth::Scope::Scim).await;
        let admin_key = key("admin", scim_auth::Scope::PublicApi).await;
        let ctx = scimd::AppContext::new(store, &config).expect("context");
        let service = actix_web::test::init_service(scimd::build_app(ctx)).await;
        let target = scimd::probe::Target {
            tenant: "acme".into(),
            user: "00000000-0000-0000-0000-000000000000".into(),
            scim_key,
            admin_key,
        };
        (service, target)
    });
    Box::new(move |selector, value| {
        system.block_on(scimd::probe::probe(&service, &target, selector, &value))
    })
}

thread_local! {
    // Leaked on purpose: dropping the actix runtime from a thread-local destructor at exit
    // touches thread-locals already destroyed (the first run's only report was that).
    static APP: RefCell<Option<&'static App>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let value = String::from_utf8_lossy(rest).into_owned();
    APP.with(|cell| {
        let mut cell = cell.borrow_mut();
        let run = *cell.get_or_insert_with(|| Box::leak(Box::new(app())));
        if let Err(failure) = run(usize::from(selector), value) {
            panic!("{failure}");
        }
    });
});
