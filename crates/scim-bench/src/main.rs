//! `scim-bench`: an Entra ID–shaped SCIM load generator (issue 9), fast enough not to be the
//! bottleneck, plus the static responder that shows its ceiling and the report tables.
//!
//! It drives any SCIM base URL with a bearer token (plain HTTP: it is meant for loopback).
//! `scripts/bench.sh` runs it against scimd (SQLite, PostgreSQL) and a peer server and writes
//! the results into docs/PERFORMANCE.md.

mod http;
mod phase;
mod phases;
mod report;
mod responder;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use hyper::Method;

use crate::http::{fail, Recorder, Scim};
use crate::phase::Probe;
use crate::report::RunResult;

#[derive(Parser)]
#[command(
    name = "scim-bench",
    version,
    about = "Entra-shaped SCIM load generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the six phases against a SCIM server.
    Run(RunArgs),
    /// Measure the generator's ceiling: GETs against a (static) server, checked for status 200.
    Ceiling(CeilingArgs),
    /// Serve a fixed 200 answer to every request (raw hyper 1, HTTP/1.1 keep-alive).
    StaticResponder {
        #[arg(long, default_value = "127.0.0.1:18099")]
        listen: SocketAddr,
    },
    /// Print the Markdown table of a results file.
    Table { file: PathBuf },
    /// Print the side-by-side table of our results and the peer's (the best of its runs per phase).
    Compare {
        ours: PathBuf,
        #[arg(long = "peer", required = true)]
        peers: Vec<PathBuf>,
        #[arg(long)]
        ceiling: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// SCIM base URL, e.g. http://127.0.0.1:18080/scim/v2
    #[arg(long)]
    base_url: String,
    /// Bearer token.
    #[arg(long, env = "SCIM_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Concurrent requests in flight.
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// Server process whose RSS and CPU time are read from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Parent of the database's processes (PostgreSQL's postmaster): their CPU time is reported.
    #[arg(long)]
    db_parent_pid: Option<u32>,
    /// Name of the server in the tables.
    #[arg(long, default_value = "server")]
    label: String,
    /// Write the results as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Seconds after which a request counts as failed.
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Users (N).
    #[arg(long, short = 'n', default_value_t = 1000)]
    users: usize,
    /// Members of the big group (M, at most N).
    #[arg(long, short = 'm', default_value_t = 1000)]
    members: usize,
    /// Single-member add/remove requests and group GETs in phase 4.
    #[arg(long, default_value_t = 1000)]
    single_ops: usize,
    /// Each phase stops issuing requests after this many seconds (except 1 and 4a, which build
    /// the users and the group that the others use).
    #[arg(long, default_value_t = 900)]
    phase_limit: u64,
    /// Phases to run, comma-separated (1-6).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5,6")]
    phases: Vec<u8>,
    /// Prefix making userNames unique to this run (default: from the clock).
    #[arg(long)]
    prefix: Option<String>,
    /// RFC 7644 shapes where Entra's differ (manager as {value}, removal by a filtered path).
    #[arg(long)]
    rfc_shapes: bool,
}

#[derive(Args)]
struct CeilingArgs {
    #[command(flatten)]
    common: Common,
    /// GET requests to make.
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Path under the base URL.
    #[arg(long, default_value = "/Users/static")]
    path: String,
}

fn probe(c: &Common) -> Probe {
    Probe {
        server_pid: c.server_pid,
        db_parent_pid: c.db_parent_pid,
    }
}

fn write_out(common: &Common, run: &RunResult) -> Result<(), String> {
    println!("{}", report::table(run));
    if let Some(path) = &common.json_out {
        let text = serde_json::to_string_pretty(run).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn read_run(path: &PathBuf) -> Result<RunResult, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

async fn run(args: RunArgs) -> Result<(), String> {
    let c = &args.common;
    if args.members > args.users {
        return Err("--members cannot exceed --users (members are the benchmark's users)".into());
    }
    let prefix = args.prefix.clone().unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("r{secs:x}")
    });
    let plan = phases::Plan {
        users: args.users,
        members: args.members,
        concurrency: c.concurrency,
        single_ops: args.single_ops,
        phase_limit: Duration::from_secs(args.phase_limit),
        prefix,
        probe: probe(c),
        phases: args.phases.clone(),
        rfc_shapes: args.rfc_shapes,
    };
    let scim = Scim::new(
        &c.base_url,
        &c.token,
        c.concurrency,
        Duration::from_secs(c.request_timeout),
    );
    eprintln!(
        "scim-bench: {} at {} — N = {}, M = {}, C = {}",
        c.label, c.base_url, args.users, args.members, c.concurrency
    );
    let phases = phases::run(scim, &plan).await;
    write_out(
        c,
        &RunResult {
            label: c.label.clone(),
            users: args.users,
            members: args.members,
            concurrency: c.concurrency,
            phases,
        },
    )
}

async fn ceiling(args: CeilingArgs) -> Result<(), String> {
    let c = &args.common;
    let scim = Arc::new(Scim::new(
        &c.base_url,
        &c.token,
        c.concurrency,
        Duration::from_secs(c.request_timeout),
    ));
    let path = Arc::new(args.path.clone());
    let result = phase::run(
        "GET (static responder)",
        args.requests,
        c.concurrency,
        Duration::from_secs(300),
        probe(c),
        move |_, rec: Arc<Recorder>| {
            let (scim, path) = (scim.clone(), path.clone());
            async move {
                let reply = scim.send(&rec, Method::GET, &path, None).await?;
                let body = reply.expect(&[200])?.json()?;
                body.get("id").map(|_| ()).ok_or_else(|| fail("no id"))
            }
        },
    )
    .await;
    write_out(
        c,
        &RunResult {
            label: c.label.clone(),
            users: 0,
            members: 0,
            concurrency: c.concurrency,
            phases: vec![result],
        },
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scim-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Ceiling(args) => ceiling(args).await,
            Command::StaticResponder { listen } => {
                responder::serve(listen).await.map_err(|e| e.to_string())
            }
            Command::Table { file } => read_run(&file).map(|r| println!("{}", report::table(&r))),
            Command::Compare {
                ours,
                peers,
                ceiling,
            } => {
                let ceiling = ceiling.as_ref().map(read_run).transpose()?;
                let ours = read_run(&ours)?;
                let peers = peers.iter().map(read_run).collect::<Result<Vec<_>, _>>()?;
                println!("{}", report::compare(&ours, &peers, ceiling.as_ref()));
                Ok(())
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scim-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
