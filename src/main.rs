//! The `vafa` command: serve, migrate, export the schema, and administer workspaces and users.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use entity::user::UserRole;
use tracing_subscriber::{EnvFilter, fmt};
use vafa::{
    AppState,
    auth::{Actor, jwt::JwtKeys},
    build_app,
    config::{AuthArgs, DatabaseArgs, HttpSettings, LogFormat, ServeArgs},
    db, demo,
    graphql::{AppError, transact},
    http, jobs, schema, users, workspaces,
};

/// mimalloc instead of glibc malloc: bulk imports spent a third of their time in glibc's
/// allocator (free-list consolidation) on short-lived rows and statement values.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "vafa", version, about = "Vafa: a GraphQL API backend for customer retention")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations.
    Migrate(DatabaseArgs),
    /// Print the GraphQL schema (SDL) to standard output.
    ExportSchema,
    /// Create a workspace (tenant); prints its id.
    CreateWorkspace {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Short unique name used at login and by the CLI, e.g. `acme`.
        #[arg(long)]
        slug: String,
        /// Display name, e.g. "Acme Ltd".
        #[arg(long)]
        name: String,
        /// ISO 4217 code of the currency all orders are in (fixed once orders exist).
        #[arg(long, default_value = "USD")]
        currency: String,
        /// IANA time zone the workspace's days, business hours and reports are counted in,
        /// e.g. `Europe/Berlin`.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// Create a staff user; the password is read from standard input. Prints the user's id.
    CreateUser {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Slug of the workspace the user belongs to.
        #[arg(long)]
        workspace: String,
        /// Login email (unique in the workspace).
        #[arg(long)]
        email: String,
        /// What the user may do.
        #[arg(long, value_enum, ignore_case = true)]
        role: RoleArg,
        /// Display name; defaults to the part of the email before `@`.
        #[arg(long)]
        name: Option<String>,
    },
    /// Import customers or orders from a CSV file (more in the README).
    Import {
        #[command(flatten)]
        database: DatabaseArgs,
        /// What the file holds.
        #[arg(value_enum)]
        kind: ImportKind,
        /// The CSV file with a header row, or `-` for standard input.
        file: std::path::PathBuf,
        /// Slug of the workspace to import into; may be left out when the database has only one.
        #[arg(long)]
        workspace: Option<String>,
        /// Accept rows with missing or extra fields and fields spanning lines (default: strict).
        #[arg(long)]
        lenient: bool,
    },
    /// Run the background jobs once (follow-up rules, lifecycle sweep), e.g. from cron.
    RunJobs(DatabaseArgs),
    /// Print an access token for a user (for scripts).
    IssueToken {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        auth: AuthArgs,
        /// Slug of the user's workspace.
        #[arg(long)]
        workspace: String,
        /// Email of the active user the token is for.
        #[arg(long)]
        email: String,
    },
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum ImportKind {
    /// Columns: `name` (required), `external_ref`, `email`, `phone`, `birthday`, `anniversary`
    /// (YYYY-MM-DD), `city`, `region`, `country`, `marketing_consent` (true/false).
    Customers,
    /// Columns: `customer_ref` (external reference or email; unknown customers are created),
    /// `placed_at` (RFC 3339 or YYYY-MM-DD), `amount` (decimal), optional `external_ref`, `currency`.
    Orders,
}

/// A staff role as a flag value; the roles themselves are [`UserRole`]'s.
#[derive(Clone, Copy)]
struct RoleArg(UserRole);

impl clap::ValueEnum for RoleArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ROLES: std::sync::LazyLock<Vec<RoleArg>> = std::sync::LazyLock::new(|| {
            use sea_orm::Iterable;
            UserRole::iter().map(RoleArg).collect()
        });
        &ROLES
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (name, help) = match self.0 {
            UserRole::Admin => ("admin", "everything, users and API keys included"),
            UserRole::Manager => ("manager", "everything but users and API keys"),
            UserRole::Agent => ("agent", "customers, orders and tickets"),
            UserRole::Sales => ("sales", "customers, orders and tickets"),
            UserRole::Viewer => ("viewer", "reads customers and tickets, changes nothing"),
        };
        Some(clap::builder::PossibleValue::new(name).help(help))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Pretty,
    };
    init_tracing(log_format);
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(database) => {
            let db = db::connect(&database.resolve_url()?).await?;
            db::migrate(&db).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Import { database, kind, file, workspace, lenient } => {
            import(database, kind, file, workspace, lenient).await
        }
        Command::RunJobs(database) => {
            let db = open(&database).await?;
            let now = chrono::Utc::now();
            let report = jobs::run_once(&db, now).await.map_err(describe)?;
            let sla = vafa::tickets::breaches::run(&db, None, now).await.map_err(describe)?;
            println!(
                "workspaces: {}, follow-ups created: {}, stages changed: {}, SLA warnings: {}, SLA breaches: {}",
                report.workspaces, report.follow_ups_created, report.stages_changed, sla.warnings, sla.breaches
            );
            Ok(())
        }
        Command::ExportSchema => {
            print!("{}", schema::sdl());
            Ok(())
        }
        Command::CreateWorkspace { database, slug, name, currency, timezone } => {
            let db = open(&database).await?;
            let new = workspaces::service::NewWorkspace {
                slug: &slug,
                name: &name,
                currency: &currency,
                timezone: &timezone,
            };
            let ws = transact(&db, async |txn| workspaces::service::create(txn, Actor::SYSTEM, new).await)
                .await
                .map_err(describe)?;
            println!("{}", ws.id);
            Ok(())
        }
        Command::CreateUser { database, workspace, email, role: RoleArg(role), name } => {
            let password = read_password()?;
            let db = open(&database).await?;
            let ws = workspaces::service::find_by_slug(&db, &workspace)
                .await
                .map_err(describe)?
                .with_context(|| format!("no workspace with slug `{workspace}`"))?;
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
            let new = users::service::NewUser { email, name, role, password };
            let user = transact(&db, async |txn| users::service::create(txn, ws.id, Actor::SYSTEM, new).await)
                .await
                .map_err(describe)?;
            println!("{}", user.id);
            Ok(())
        }
        Command::IssueToken { database, auth, workspace, email } => {
            let url = database.resolve_url()?;
            let jwt = JwtKeys::new(auth.resolve(&database, &url)?);
            let db = open(&database).await?;
            let ws = workspaces::service::find_by_slug(&db, &workspace)
                .await
                .map_err(describe)?
                .with_context(|| format!("no workspace with slug `{workspace}`"))?;
            let user = users::service::find_by_email(&db, ws.id, &email)
                .await
                .map_err(describe)?
                .filter(|u| u.active)
                .with_context(|| format!("no active user `{email}` in `{workspace}`"))?;
            println!("{}", jwt.issue_access(user.id, ws.id).map_err(describe)?.token);
            Ok(())
        }
    }
}

/// `vafa import`: fails (after printing the summary) when a row was rejected, so scripts notice.
async fn import(
    database: DatabaseArgs,
    kind: ImportKind,
    file: std::path::PathBuf,
    workspace: Option<String>,
    lenient: bool,
) -> anyhow::Result<()> {
    let (input, size): (Box<dyn std::io::Read>, Option<u64>) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let opened = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
        let size = opened.metadata().ok().map(|m| m.len());
        (Box::new(opened), size)
    };
    let input = std::io::BufReader::with_capacity(1 << 20, input);
    let db = open(&database).await?;
    let workspace = match workspace {
        Some(slug) => slug,
        None => only_workspace(&db).await?,
    };
    let options = vafa::import::ImportOptions { strict: !lenient, size };
    let summary = match kind {
        ImportKind::Customers => vafa::import::customers_with(&db, &workspace, input, options).await,
        ImportKind::Orders => vafa::import::orders_with(&db, &workspace, input, options).await,
    }
    .map_err(describe)?;
    println!("{}", summary.report());
    if summary.rejected > 0 {
        bail!("{} rows were rejected (listed above); the other rows were imported", summary.rejected);
    }
    Ok(())
}

/// The slug of the database's only workspace; with several, which one is meant must be said.
async fn only_workspace(db: &sea_orm::DatabaseConnection) -> anyhow::Result<String> {
    use sea_orm::{EntityTrait, QuerySelect};
    let slugs: Vec<String> = entity::workspace::Entity::find()
        .select_only()
        .column(entity::workspace::Column::Slug)
        .limit(11)
        .into_tuple()
        .all(db)
        .await?;
    match slugs.as_slice() {
        [] => bail!("the database has no workspace yet: create one with `vafa create-workspace`"),
        [only] => Ok(only.clone()),
        [first, .., last] if slugs.len() > 10 => {
            bail!("the database has many workspaces ({first} … {last}): say which with --workspace")
        }
        several => bail!("the database has several workspaces ({}): say which with --workspace", several.join(", ")),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let db = db::connect_when_up(&settings.database_url, std::time::Duration::from_secs(args.database_wait)).await?;
    db::migrate(&db).await?;
    if let Some(limit) = http::raise_open_files_limit() {
        tracing::debug!(limit, "open files limit");
    }
    let state = AppState::new(db, settings.jwt.clone(), settings.http.clone());
    let listener =
        tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    if args.demo {
        print_demo_access(&state, address, &settings.http).await?;
    }
    state.events().start_listener().await.context("cannot listen for events")?;
    if args.job_interval_secs > 0 {
        jobs::spawn(state.clone(), std::time::Duration::from_secs(args.job_interval_secs));
    }
    if args.sla_interval_secs > 0 {
        jobs::spawn_sla(state.clone(), std::time::Duration::from_secs(args.sla_interval_secs));
    }
    tracing::info!(%address, database = %redact(&settings.database_url), "Vafa is listening");
    let connections = state.http().connections;
    http::serve(listener, build_app(state), connections, shutdown_signal()).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn print_demo_access(state: &AppState, address: std::net::SocketAddr, http: &HttpSettings) -> anyhow::Result<()> {
    match demo::ensure(state.db(), state.jwt()).await.map_err(describe)? {
        Some(access) => {
            println!("Demo workspace `{}`, admin {}", demo::DEMO_SLUG, demo::DEMO_ADMIN_EMAIL);
            if let Some(seeded) = &access.seeded {
                println!("Demo data: {seeded}");
            }
            if let Some(password) = access.new_password {
                println!("Admin password (shown once): {password}");
            }
            if http.graphiql {
                println!("GraphiQL: http://{address}/graphql");
            }
            println!("Access token: {}", access.access_token);
        }
        None => println!("--demo: the database already holds other workspaces; no demo data created"),
    }
    Ok(())
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = db::connect(&database.resolve_url()?).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// A service error as a CLI error message.
fn describe(err: AppError) -> anyhow::Error {
    match err {
        AppError::Internal(inner) => inner,
        other => anyhow::anyhow!("{} ({})", other.message(), other.code()),
    }
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is visible; prefer piping it in): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

fn init_tracing(format: LogFormat) {
    let mut filter =
        EnvFilter::try_from_env("VAFA_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // These libraries trace raw frames and headers, credentials included (a WebSocket's
    // `connection_init`, `Authorization`): never below info, whatever VAFA_LOG asks.
    for quiet in ["tungstenite=info", "tokio_tungstenite=info", "hyper=info", "hyper_util=info", "h2=info"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag and argument of every subcommand says what it is for in `--help`.
    #[test]
    fn every_flag_has_help() {
        fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                let builtin = matches!(arg.get_action(), clap::ArgAction::Help | clap::ArgAction::Version);
                if !builtin && arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
                // Choices need a word each, except true/false.
                let values = arg.get_possible_values();
                let boolean = values.iter().all(|v| matches!(v.get_name(), "true" | "false"));
                for value in values.iter().filter(|v| !boolean && !v.is_hide_set()) {
                    if value.get_help().is_none() {
                        missing.push(format!("{path} {} {}", arg.get_id(), value.get_name()));
                    }
                }
            }
            for sub in command.get_subcommands() {
                undocumented(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        let mut cli = Cli::command();
        cli.build();
        undocumented(&cli, "", &mut missing);
        assert!(missing.is_empty(), "flags without help: {missing:?}");
    }
}
