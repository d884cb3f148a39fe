//! Settings from environment variables and flags, validated once at start.

use std::{
    fs,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use rand::RngCore;

/// Where the data lives; shared by every subcommand that touches the database.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Directory for the embedded SQLite database and the generated JWT secret.
    #[arg(long, env = "VAFA_DATA_DIR", default_value = "./vafa-data")]
    pub data_dir: PathBuf,

    /// Database URL (`sqlite://…` or `postgres://…`). Default: an SQLite file in the data dir.
    #[arg(long, env = "VAFA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Everything that issues or checks tokens needs.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// HS256 signing secret for access tokens (at least 32 bytes). Required with PostgreSQL;
    /// in embedded mode one is generated on first run and kept in the data dir.
    #[arg(long, env = "VAFA_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Access-token lifetime in seconds.
    #[arg(long, env = "VAFA_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,
}

/// Refresh tokens are issued by the server only, so only `serve` has the flag.
const DEFAULT_REFRESH_TOKEN_TTL: u64 = 30 * 24 * 3600;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,

    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "VAFA_REFRESH_TOKEN_TTL", default_value_t = DEFAULT_REFRESH_TOKEN_TTL)]
    pub refresh_token_ttl: u64,

    /// Address to listen on.
    #[arg(long, env = "VAFA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Log format.
    #[arg(long, env = "VAFA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Comma-separated origins allowed by CORS (e.g. `https://crm.example.com`); `*` allows any.
    #[arg(long, env = "VAFA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Serve GraphiQL on `GET /graphql` for browsers.
    #[arg(long, env = "VAFA_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Answer introspection queries.
    #[arg(long, env = "VAFA_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "VAFA_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are cut off with 408.
    #[arg(long, env = "VAFA_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Seconds `serve` waits for an unreachable database at start, retrying, before it gives up.
    #[arg(long, env = "VAFA_DATABASE_WAIT", default_value_t = 60)]
    pub database_wait: u64,

    /// Most TCP connections (WebSockets included) served at once; more wait in the backlog.
    #[arg(long, env = "VAFA_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds a client gets to send a request's headers, and an idle keep-alive connection to
    /// start its next request, before the connection is closed.
    #[arg(long, env = "VAFA_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Most GraphQL requests in progress at once; more get 503 with `Retry-After`.
    #[arg(long, env = "VAFA_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,

    /// Seconds a WebSocket gets to send `connection_init` (closed with 4408 otherwise).
    #[arg(long, env = "VAFA_WS_INIT_TIMEOUT", default_value_t = 10)]
    pub ws_init_timeout: u64,

    /// Most subscriptions one WebSocket may run at once.
    #[arg(long, env = "VAFA_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = 100)]
    pub max_subscriptions_per_socket: usize,

    /// Seconds between background job runs (follow-up rules, lifecycle sweep); 0 disables them.
    #[arg(long, env = "VAFA_JOB_INTERVAL_SECS", default_value_t = 300)]
    pub job_interval_secs: u64,

    /// Seconds between SLA checks (warnings, breaches, auto-escalation); 0 disables them.
    #[arg(long, env = "VAFA_SLA_INTERVAL_SECS", default_value_t = 30)]
    pub sla_interval_secs: u64,

    /// Create a demo workspace and admin when the database is empty, and print a token.
    #[arg(long)]
    pub demo: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Validated settings the running server uses.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub jwt: JwtSettings,
    pub http: HttpSettings,
}

#[derive(Clone)]
pub struct JwtSettings {
    pub secret: Vec<u8>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"<redacted>")
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub cors_origins: Vec<String>,
    pub graphiql: bool,
    pub introspection: bool,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub connections: ConnectionLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            cors_origins: Vec::new(),
            graphiql: true,
            introspection: true,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            connections: ConnectionLimits::default(),
        }
    }
}

/// What one client may hold of the server's sockets and workers.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub max_in_flight: usize,
    pub ws_init_timeout: Duration,
    pub max_subscriptions_per_socket: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            max_in_flight: 512,
            ws_init_timeout: Duration::from_secs(10),
            max_subscriptions_per_socket: 100,
        }
    }
}

const MIN_SECRET_BYTES: usize = 32;
const SECRET_FILE: &str = "jwt-secret";

impl DatabaseArgs {
    /// The database URL to use; creates the data dir for the embedded default.
    pub fn resolve_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) if is_postgres(url) || url.starts_with("sqlite:") => Ok(url.clone()),
            Some(_) => bail!("VAFA_DATABASE_URL must start with postgres://, postgresql:// or sqlite:"),
            None => {
                ensure_dir(&self.data_dir)?;
                let file = self.data_dir.join("vafa.db");
                make_private(&file)?;
                Ok(format!("sqlite://{}?mode=rwc", file.display()))
            }
        }
    }
}

impl AuthArgs {
    /// The signing settings, with the default refresh-token lifetime (`serve` sets its own).
    pub fn resolve(&self, database: &DatabaseArgs, database_url: &str) -> anyhow::Result<JwtSettings> {
        if self.access_token_ttl < 10 || self.access_token_ttl > 24 * 3600 {
            bail!("VAFA_ACCESS_TOKEN_TTL must be between 10 seconds and 24 hours");
        }
        let secret = match &self.jwt_secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None if is_postgres(database_url) => bail!(
                "VAFA_JWT_SECRET is required with PostgreSQL (every instance must share it); \
                 generate one with `openssl rand -base64 48`"
            ),
            None => load_or_create_secret(&database.data_dir)?,
        };
        if secret.len() < MIN_SECRET_BYTES {
            bail!("VAFA_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long");
        }
        Ok(JwtSettings {
            secret,
            access_token_ttl: Duration::from_secs(self.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(DEFAULT_REFRESH_TOKEN_TTL),
        })
    }
}

impl ServeArgs {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let database_url = self.database.resolve_url()?;
        let mut jwt = self.auth.resolve(&self.database, &database_url)?;
        if self.refresh_token_ttl <= self.auth.access_token_ttl {
            bail!("VAFA_REFRESH_TOKEN_TTL must be longer than VAFA_ACCESS_TOKEN_TTL");
        }
        jwt.refresh_token_ttl = Duration::from_secs(self.refresh_token_ttl);
        if self.max_body_bytes < 1024 {
            bail!("VAFA_MAX_BODY_BYTES must be at least 1024");
        }
        if self.request_timeout == 0 {
            bail!("VAFA_REQUEST_TIMEOUT must be at least 1 second");
        }
        for (name, value) in [
            ("VAFA_MAX_CONNECTIONS", self.max_connections as u64),
            ("VAFA_HEADER_TIMEOUT", self.header_timeout),
            ("VAFA_MAX_IN_FLIGHT", self.max_in_flight as u64),
            ("VAFA_WS_INIT_TIMEOUT", self.ws_init_timeout),
            ("VAFA_MAX_SUBSCRIPTIONS_PER_SOCKET", self.max_subscriptions_per_socket as u64),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        for origin in &self.cors_origins {
            if origin != "*" && origin.parse::<http::HeaderValue>().is_err() {
                bail!("VAFA_CORS_ORIGINS contains an invalid origin: {origin:?}");
            }
        }
        Ok(Settings {
            database_url,
            jwt,
            http: HttpSettings {
                cors_origins: self.cors_origins.clone(),
                graphiql: self.graphiql,
                introspection: self.introspection,
                max_body_bytes: self.max_body_bytes,
                request_timeout: Duration::from_secs(self.request_timeout),
                connections: ConnectionLimits {
                    max_connections: self.max_connections,
                    header_read_timeout: Duration::from_secs(self.header_timeout),
                    max_in_flight: self.max_in_flight,
                    ws_init_timeout: Duration::from_secs(self.ws_init_timeout),
                    max_subscriptions_per_socket: self.max_subscriptions_per_socket,
                },
            },
        })
    }
}

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Creates the data dir, readable by its owner only: it holds customer data and secrets.
fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make the data dir {} private", dir.display()))?;
    }
    Ok(())
}

/// Creates the embedded database file owner-only (SQLite gives its `-wal` and `-shm` files the
/// database file's mode), and makes existing ones owner-only.
fn make_private(database: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(database)
            .with_context(|| format!("cannot create {}", database.display()))?;
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", database.display()));
            if path.exists() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Reads the embedded-mode secret, generating it (owner-only permissions) on first run.
fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    ensure_dir(data_dir)?;
    let path = data_dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            refuse_if_shared(&path)?;
            Ok(text.trim().as_bytes().to_vec())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 48];
            rand::rng().fill_bytes(&mut bytes);
            let secret = hex::encode(bytes);
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(secret.as_bytes())?;
            Ok(secret.into_bytes())
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A signing secret others can read lets them mint tokens: refuse to use it.
fn refuse_if_shared(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by other users (mode {mode:o}); make it private with `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path, url: Option<&str>) -> DatabaseArgs {
        DatabaseArgs { data_dir: dir.to_path_buf(), database_url: url.map(str::to_owned) }
    }

    fn auth(secret: Option<&str>) -> AuthArgs {
        AuthArgs { jwt_secret: secret.map(str::to_owned), access_token_ttl: 900 }
    }

    #[test]
    fn embedded_mode_generates_a_private_secret_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), None);
        let url = db.resolve_url().unwrap();
        assert!(url.starts_with("sqlite://"));
        let first = auth(None).resolve(&db, &url).unwrap();
        let second = auth(None).resolve(&db, &url).unwrap();
        assert_eq!(first.secret, second.secret);
        assert!(first.secret.len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dir.path()), 0o700);
            assert_eq!(mode(&dir.path().join("vafa.db")), 0o600);
            // A secret file others can read is refused, with the fix in the message.
            fs::set_permissions(dir.path().join(SECRET_FILE), fs::Permissions::from_mode(0o644)).unwrap();
            let err = auth(None).resolve(&db, &url).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn postgres_requires_an_explicit_secret() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), Some("postgres://localhost/vafa"));
        let url = db.resolve_url().unwrap();
        let err = auth(None).resolve(&db, &url).unwrap_err().to_string();
        assert!(err.contains("VAFA_JWT_SECRET is required"), "{err}");
        let err = auth(Some("short")).resolve(&db, &url).unwrap_err().to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        assert!(auth(Some(&"x".repeat(32))).resolve(&db, &url).is_ok());
    }

    #[test]
    fn unknown_database_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = database(dir.path(), Some("mysql://x")).resolve_url().unwrap_err().to_string();
        assert!(err.contains("VAFA_DATABASE_URL"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let settings = JwtSettings {
            secret: b"super-secret-value-that-must-not-leak".to_vec(),
            access_token_ttl: Duration::from_secs(1),
            refresh_token_ttl: Duration::from_secs(2),
        };
        assert!(!format!("{settings:?}").contains("super-secret"));
    }
}
