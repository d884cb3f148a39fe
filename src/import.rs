//! Bulk import from CSV for moving from another system: `vafa import customers|orders FILE`.
//! Streaming, batched inserts (one transaction per batch), then the statistics and purchase days
//! of the whole workspace recounted in one transaction; idempotent when re-run (a re-run also
//! completes a run cut short), and bad rows reported with their physical line numbers without
//! losing the good ones. Rows pass the same checks as the API.

use std::{
    collections::HashMap,
    io::{IsTerminal, Read},
    str::FromStr,
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    customer,
    enums::AcquisitionSource,
    order::{self, OrderChannel, OrderStatus},
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, TryInsertResult, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    contact::{normalize_email, normalize_name, normalize_phone},
    customers,
    graphql::{AppError, AppResult, ids::new_id, transact},
    jobs, money, workspaces,
};

/// Rows written per transaction. Big transactions matter on SQLite: every commit writes each index
/// page it touched to the WAL, and order rows land all over three indexes, so small batches
/// rewrite the same pages again and again (5,000-row batches were 3x slower on 1M orders).
const BATCH_ROWS: usize = 100_000;
/// SQLite page cache for the import's connection (KiB, as a negative `cache_size`): enough to hold
/// the pages a batch dirties, so they are written once at commit. Pages are allocated as used.
const IMPORT_CACHE_KIB: i64 = 1 << 20;
/// Rows per INSERT statement (SQLite allows at most 32766 bound values).
const ROWS_PER_STATEMENT: usize = 2_500;
/// Bad rows listed in full in the summary; the rest are only counted.
const MAX_LISTED_ERRORS: usize = 20;

/// How forgiving the reader is.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Strict (the default): every row has as many fields as the header, and no field spans lines —
    /// none of the imported columns may hold a line break, so one that does is an unbalanced quote
    /// that swallowed the rows after it. Lenient accepts short or long rows and multi-line fields.
    pub strict: bool,
    /// The input's length in bytes when known (a file, not a pipe): the progress bar then shows
    /// a percentage and the time left.
    pub size: Option<u64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { strict: true, size: None }
    }
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub rows_read: u64,
    pub created: u64,
    /// Rows already imported before (same reference): skipped, not duplicated.
    pub already_present: u64,
    pub customers_created: u64,
    pub rejected: u64,
    /// `line N: reason`, for the first few rejected rows.
    pub errors: Vec<String>,
    /// Time per phase, e.g. ("rows", 12.3 s).
    pub phases: Vec<(&'static str, Duration)>,
    pub elapsed: Duration,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, reason: impl std::fmt::Display) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(format!("line {line}: {reason}"));
        }
    }

    pub fn report(&self) -> String {
        let mut text = format!(
            "rows read: {}, created: {}, already present (skipped): {}, rejected: {}, customers created: {}, in {:.1} s",
            self.rows_read,
            self.created,
            self.already_present,
            self.rejected,
            self.customers_created,
            self.elapsed.as_secs_f64()
        );
        if !self.phases.is_empty() {
            let phases: Vec<String> =
                self.phases.iter().map(|(name, t)| format!("{name} {:.1} s", t.as_secs_f64())).collect();
            text.push_str(&format!(" ({})", phases.join(", ")));
        }
        for error in &self.errors {
            text.push_str("\n  ");
            text.push_str(error);
        }
        if self.rejected as usize > self.errors.len() {
            text.push_str(&format!("\n  … and {} more rejected rows", self.rejected as usize - self.errors.len()));
        }
        text
    }
}

/// Customers of the workspace by external reference and by email, for resolving rows.
struct CustomerIndex {
    by_ref: HashMap<String, Uuid>,
    by_email: HashMap<String, Uuid>,
}

impl CustomerIndex {
    async fn load(db: &DatabaseConnection, workspace_id: Uuid) -> AppResult<Self> {
        let rows: Vec<(Uuid, Option<String>, Option<String>)> = customer::Entity::find()
            .select_only()
            .columns([customer::Column::Id, customer::Column::ExternalRef, customer::Column::Email])
            .filter(customer::Column::WorkspaceId.eq(workspace_id))
            .filter(customer::Column::MergedIntoId.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let mut index = CustomerIndex { by_ref: HashMap::new(), by_email: HashMap::new() };
        for (id, external_ref, email) in rows {
            if let Some(r) = external_ref {
                index.by_ref.insert(r, id);
            }
            if let Some(e) = email {
                index.by_email.entry(e).or_insert(id);
            }
        }
        Ok(index)
    }

    /// A customer reference is an external reference, or else an email.
    fn find(&self, reference: &str) -> Option<Uuid> {
        self.by_ref.get(reference).or_else(|| self.by_email.get(&reference.to_lowercase())).copied()
    }
}

/// Progress on standard error by bytes read, drawn only when standard error is a terminal (not
/// into logs or pipes): a bar with percentage and time left when the size is known, else a
/// spinner with the bytes read.
fn progress(label: &'static str, size: Option<u64>) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let (template, fallback) = match size {
        Some(_) => (
            "{prefix} [{wide_bar}] {percent}% of {total_bytes}, {eta} left ({bytes_per_sec})",
            ProgressStyle::default_bar(),
        ),
        None => ("{spinner} {prefix} {bytes} read ({bytes_per_sec}) {elapsed}", ProgressStyle::default_spinner()),
    };
    let bar = ProgressBar::with_draw_target(size, target)
        .with_style(ProgressStyle::with_template(template).unwrap_or(fallback))
        .with_prefix(label);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn reader<R: Read>(input: R, options: ImportOptions) -> csv::Reader<R> {
    csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(!options.strict).from_reader(input)
}

/// The next record with the physical line it starts on, or a line-numbered reason to reject it.
/// `None` at the end of the file.
fn next_record<R: Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    options: ImportOptions,
) -> Option<(u64, Result<(), String>)> {
    let before = csv.position().line();
    match csv.read_record(record) {
        Ok(false) => None,
        Ok(true) => {
            let line = record.position().map_or(before, csv::Position::line);
            Some((line, check_record(record, options)))
        }
        Err(e) => {
            let line = e.position().map_or(before, csv::Position::line);
            let reason = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("{len} fields where the header has {expected_len} (an unbalanced quote?)")
                }
                _ => e.to_string(),
            };
            Some((line, Err(reason)))
        }
    }
}

/// Refuses control characters (C0 other than tab, line feed and carriage return: PostgreSQL cannot
/// store NUL, and none belongs in a name or reference) and, in strict mode, fields spanning lines.
fn check_record(record: &csv::StringRecord, options: ImportOptions) -> Result<(), String> {
    for (i, value) in record.iter().enumerate() {
        if let Some(c) = value.chars().find(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{7f}')) {
            return Err(format!("field {} contains the control character U+{:04X}", i + 1, u32::from(c)));
        }
        if options.strict && value.contains(['\n', '\r']) {
            return Err(format!("field {} spans several lines (an unbalanced quote?)", i + 1));
        }
    }
    Ok(())
}

/// Column positions by (lower-case) header name.
fn columns(headers: &csv::StringRecord) -> HashMap<String, usize> {
    headers.iter().enumerate().map(|(i, h)| (h.to_lowercase(), i)).collect()
}

fn field<'r>(record: &'r csv::StringRecord, columns: &HashMap<String, usize>, name: &str) -> Option<&'r str> {
    columns.get(name).and_then(|i| record.get(*i)).filter(|v| !v.is_empty())
}

async fn insert_customers<C: ConnectionTrait>(db: &C, rows: Vec<customer::ActiveModel>) -> AppResult<u64> {
    let mut created = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT / 4).collect();
        let result = customer::Entity::insert_many(chunk)
            .on_conflict_do_nothing_on([customer::Column::WorkspaceId, customer::Column::ExternalRef])
            .exec_without_returning(db)
            .await?;
        if let TryInsertResult::Inserted(n) = result {
            created += n;
        }
    }
    Ok(created)
}

/// Imports customers. Columns: `name` (required), `external_ref`, `email`, `phone`, `birthday`,
/// `anniversary` (YYYY-MM-DD), `city`, `region`, `country`, `marketing_consent` (true/false).
/// A row whose external reference or email is already known is skipped.
pub async fn customers<R: Read>(db: &DatabaseConnection, workspace_slug: &str, input: R) -> AppResult<ImportSummary> {
    customers_with(db, workspace_slug, input, ImportOptions::default()).await
}

pub async fn customers_with<R: Read>(
    db: &DatabaseConnection,
    workspace_slug: &str,
    input: R,
    options: ImportOptions,
) -> AppResult<ImportSummary> {
    let started = Instant::now();
    let workspace = workspace(db, workspace_slug).await?;
    let mut index = CustomerIndex::load(db, workspace.id).await?;
    let bar = progress("customers", options.size);
    let mut csv = reader(bar.wrap_read(input), options);
    let columns = columns(
        &csv.headers().map_err(|e| AppError::bad_input("file", format!("cannot read the header: {e}")))?.clone(),
    );
    if !columns.contains_key("name") {
        return Err(AppError::bad_input("file", "the header needs a `name` column"));
    }
    let mut summary = ImportSummary::default();
    let mut batch = Vec::new();
    let now = Utc::now();
    let mut record = csv::StringRecord::new();
    while let Some((line, checked)) = next_record(&mut csv, &mut record, options) {
        summary.rows_read += 1;
        if let Err(reason) = checked {
            summary.reject(line, reason);
            continue;
        }
        match parse_customer(&record, &columns, workspace.id, now) {
            Ok((row, external_ref, email)) => {
                let known = external_ref.as_ref().is_some_and(|r| index.by_ref.contains_key(r))
                    || email.as_ref().is_some_and(|e| index.by_email.contains_key(e));
                if known {
                    summary.already_present += 1;
                    continue;
                }
                // Later rows of the file with the same reference or email are duplicates.
                if let Some(r) = external_ref {
                    index.by_ref.insert(r, Uuid::nil());
                }
                if let Some(e) = email {
                    index.by_email.insert(e, Uuid::nil());
                }
                batch.push(row);
            }
            Err(reason) => summary.reject(line, reason),
        }
        if batch.len() >= BATCH_ROWS {
            let rows = std::mem::take(&mut batch);
            summary.created += transact(db, async |txn| insert_customers(txn, rows).await).await?;
        }
    }
    summary.created += transact(db, async |txn| insert_customers(txn, batch).await).await?;
    bar.finish_and_clear();
    summary.customers_created = summary.created;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A customer row, with its external reference and email for duplicate detection.
type ParsedCustomer = (customer::ActiveModel, Option<String>, Option<String>);

fn parse_customer(
    record: &csv::StringRecord,
    columns: &HashMap<String, usize>,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> Result<ParsedCustomer, String> {
    let get = |name: &str| field(record, columns, name);
    let message = |e: AppError| e.message();
    let name = normalize_name(get("name").unwrap_or(""), "name").map_err(message)?;
    let mut row = customers::service::blank(workspace_id, name, now);
    row.source = Set(Some(AcquisitionSource::Import));
    let email = get("email").map(|e| normalize_email(e, "email")).transpose().map_err(message)?;
    let external_ref = match get("external_ref") {
        Some(r) => Some(customers::service::normalize_external_ref(r, "external_ref").map_err(message)?),
        // Without a reference or an email nothing identifies the row on a re-run: a key derived
        // from its content does, so importing the same file twice creates the customer once.
        None if email.is_none() => {
            let content = record.iter().collect::<Vec<_>>().join("\u{1f}");
            Some(format!("import:{}", &hex::encode(Sha256::digest(content))[..24]))
        }
        None => None,
    };
    row.external_ref = Set(external_ref.clone());
    row.email = Set(email.clone());
    row.phone = Set(get("phone").map(|p| normalize_phone(p, "phone")).transpose().map_err(message)?);
    let date = |name: &str| -> Result<Option<NaiveDate>, String> {
        get(name)
            .map(|d| {
                let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("{name} must be YYYY-MM-DD, not `{d}`"))?;
                customers::service::check_past_date(date, now.date_naive(), name)
                    .map_err(|e| format!("{name} {}", e.message()))
            })
            .transpose()
    };
    row.birthday = Set(date("birthday")?);
    row.anniversary = Set(date("anniversary")?);
    row.city = Set(get("city").map(str::to_owned));
    row.region = Set(get("region").map(str::to_owned));
    row.country = Set(get("country").map(str::to_ascii_uppercase));
    row.marketing_consent = Set(matches!(get("marketing_consent"), Some("true" | "yes" | "1")));
    Ok((row, external_ref, email))
}

/// One parsed order row, before its customer is resolved.
struct OrderRow {
    line: u64,
    customer_ref: String,
    placed_at: DateTime<Utc>,
    amount_minor: i64,
    currency: String,
    external_ref: String,
}

/// Imports orders. Columns: `customer_ref,placed_at,amount[,external_ref,currency]`; a customer
/// reference is the customer's external reference or email, and unknown customers are created.
/// Rows without `external_ref` get one derived from their content and how many identical rows
/// came before them in the file, so re-running the import adds nothing twice.
pub async fn orders<R: Read>(db: &DatabaseConnection, workspace_slug: &str, input: R) -> AppResult<ImportSummary> {
    orders_with(db, workspace_slug, input, ImportOptions::default()).await
}

pub async fn orders_with<R: Read>(
    db: &DatabaseConnection,
    workspace_slug: &str,
    input: R,
    options: ImportOptions,
) -> AppResult<ImportSummary> {
    let started = Instant::now();
    let workspace = workspace(db, workspace_slug).await?;
    let mut index = CustomerIndex::load(db, workspace.id).await?;
    let bar = progress("orders", options.size);
    let mut csv = reader(bar.wrap_read(input), options);
    let columns = columns(
        &csv.headers().map_err(|e| AppError::bad_input("file", format!("cannot read the header: {e}")))?.clone(),
    );
    for required in ["customer_ref", "placed_at", "amount"] {
        if !columns.contains_key(required) {
            return Err(AppError::bad_input("file", format!("the header needs a `{required}` column")));
        }
    }
    let mut summary = ImportSummary::default();
    let mut seen: HashMap<[u8; 32], u32> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut record = csv::StringRecord::new();
    let now = Utc::now();
    while let Some((line, checked)) = next_record(&mut csv, &mut record, options) {
        summary.rows_read += 1;
        if let Err(reason) = checked {
            summary.reject(line, reason);
            continue;
        }
        match parse_order(&record, &columns, &workspace.currency, line, now, &mut seen) {
            Ok(row) => batch.push(row),
            Err(reason) => summary.reject(line, reason),
        }
        if batch.len() >= BATCH_ROWS {
            let rows = std::mem::take(&mut batch);
            write_orders(db, workspace.id, &mut index, rows, &mut summary).await?;
        }
    }
    write_orders(db, workspace.id, &mut index, batch, &mut summary).await?;
    summary.phases.push(("rows", started.elapsed()));
    if db.get_database_backend() == DbBackend::Postgres {
        // Fresh statistics before the set-based steps below: right after a bulk load the planner
        // would still take the tables for empty.
        db.execute_unprepared("ANALYZE orders, customer").await?;
    }
    // Once per run, for the whole workspace in one transaction: recounting per batch would read
    // each customer's orders once per batch (290 s instead of ~45 s for a million rows). A run cut
    // short leaves committed rows without their statistics until the next run, which skips the
    // rows and recounts.
    bar.set_prefix("statistics");
    let phase = Instant::now();
    refresh_all_stats(db, workspace.id).await?;
    summary.phases.push(("statistics", phase.elapsed()));
    bar.set_prefix("lifecycle and follow-ups");
    let phase = Instant::now();
    jobs::run_workspace(db, workspace.id, Utc::now()).await?;
    summary.phases.push(("lifecycle and follow-ups", phase.elapsed()));
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn parse_order(
    record: &csv::StringRecord,
    columns: &HashMap<String, usize>,
    workspace_currency: &str,
    line: u64,
    now: DateTime<Utc>,
    seen: &mut HashMap<[u8; 32], u32>,
) -> Result<OrderRow, String> {
    let get = |name: &str| field(record, columns, name);
    let message = |e: AppError| e.message();
    // It becomes a new customer's name and reference: the API's limits apply.
    let customer_ref =
        customers::service::normalize_external_ref(get("customer_ref").ok_or("customer_ref is empty")?, "customer_ref")
            .map_err(message)?;
    let placed_raw = get("placed_at").ok_or("placed_at is empty")?;
    let placed_at = DateTime::parse_from_rfc3339(placed_raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(placed_raw, "%Y-%m-%d").map(|d| d.and_time(Default::default()).and_utc())
        })
        .map_err(|_| format!("placed_at must be an RFC 3339 time or YYYY-MM-DD, not `{placed_raw}`"))?;
    let placed_at = crate::orders::service::check_placed_at(placed_at, now, "placed_at")
        .map_err(|e| format!("placed_at `{placed_raw}`: {}", e.message()))?;
    let currency = match get("currency") {
        Some(c) => money::validate_currency(c, "currency").map_err(|e| e.message())?,
        None => workspace_currency.to_owned(),
    };
    if currency != workspace_currency {
        return Err(format!("currency {currency} is not the workspace currency {workspace_currency}"));
    }
    let amount_raw = get("amount").ok_or("amount is empty")?;
    let amount = Decimal::from_str(amount_raw).map_err(|_| format!("amount `{amount_raw}` is not a decimal number"))?;
    let amount_minor = money::to_minor(amount, &currency, "amount").map_err(|e| e.message())?;
    let external_ref = match get("external_ref") {
        Some(r) => customers::service::normalize_external_ref(r, "external_ref").map_err(message)?,
        None => {
            let digest: [u8; 32] =
                Sha256::digest(format!("{customer_ref}\u{1f}{placed_raw}\u{1f}{amount_raw}\u{1f}{currency}")).into();
            let occurrence = seen.entry(digest).or_insert(0);
            *occurrence += 1;
            format!("import:{}:{}", &hex::encode(digest)[..24], occurrence)
        }
    };
    Ok(OrderRow { line, customer_ref, placed_at, amount_minor, currency, external_ref })
}

/// Writes one batch in one transaction: customers created on the fly, then the orders.
async fn write_orders(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    index: &mut CustomerIndex,
    rows: Vec<OrderRow>,
    summary: &mut ImportSummary,
) -> AppResult<()> {
    let now = Utc::now();
    let mut new_customers = Vec::new();
    for row in &rows {
        if index.find(&row.customer_ref).is_none() {
            let mut customer = customers::service::blank(workspace_id, row.customer_ref.clone(), now);
            customer.source = Set(Some(AcquisitionSource::Import));
            let id = new_id();
            customer.id = Set(id);
            match normalize_email(&row.customer_ref, "customer_ref") {
                Ok(email) => {
                    customer.email = Set(Some(email.clone()));
                    index.by_email.insert(email, id);
                }
                Err(_) => {
                    customer.external_ref = Set(Some(row.customer_ref.clone()));
                    index.by_ref.insert(row.customer_ref.clone(), id);
                }
            }
            new_customers.push(customer);
        }
    }
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(customer_id) = index.find(&row.customer_ref) else {
            summary.reject(row.line, "customer could not be resolved");
            continue;
        };
        orders.push(order::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            customer_id: Set(customer_id),
            external_ref: Set(row.external_ref),
            amount_minor: Set(row.amount_minor),
            currency: Set(row.currency),
            placed_at: Set(row.placed_at),
            status: Set(OrderStatus::Completed),
            channel: Set(OrderChannel::Other),
            refunded_at: Set(None),
            cancelled_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    let total = orders.len() as u64;
    let (customers_created, created) = transact(db, async |txn| {
        if txn.get_database_backend() == DbBackend::Sqlite {
            txn.execute_unprepared(&format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}")).await?;
        }
        let customers_created = insert_customers(txn, new_customers).await?;
        let mut created = 0;
        let mut orders = orders.into_iter().peekable();
        while orders.peek().is_some() {
            let chunk: Vec<_> = orders.by_ref().take(ROWS_PER_STATEMENT).collect();
            let result = order::Entity::insert_many(chunk)
                .on_conflict_do_nothing_on([order::Column::WorkspaceId, order::Column::ExternalRef])
                .exec_without_returning(txn)
                .await?;
            if let TryInsertResult::Inserted(n) = result {
                created += n;
            }
        }
        Ok((customers_created, created))
    })
    .await?;
    summary.customers_created += customers_created;
    summary.created += created;
    summary.already_present += total - created;
    Ok(())
}

/// Recomputes the order statistics of the workspace's customers from their completed orders, in
/// one statement.
async fn refresh_stats<C: ConnectionTrait>(db: &C, workspace_id: Uuid) -> AppResult<()> {
    let completed = "FROM orders o WHERE o.customer_id = customer.id AND o.status = 'COMPLETED'";
    let subquery = |aggregate: &str| Expr::cust(format!("(SELECT {aggregate} {completed})"));
    customer::Entity::update_many()
        .col_expr(customer::Column::OrderCount, subquery("COUNT(*)"))
        .col_expr(customer::Column::TotalSpentMinor, subquery("COALESCE(SUM(o.amount_minor), 0)"))
        .col_expr(customer::Column::FirstOrderAt, subquery("MIN(o.placed_at)"))
        .col_expr(customer::Column::LastOrderAt, subquery("MAX(o.placed_at)"))
        .filter(customer::Column::WorkspaceId.eq(workspace_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Recomputes every customer's order statistics and purchase days of the workspace, in one transaction.
pub async fn refresh_all_stats(db: &DatabaseConnection, workspace_id: Uuid) -> AppResult<()> {
    transact(db, async |txn| {
        refresh_stats(txn, workspace_id).await?;
        crate::metrics::activity::rebuild_workspace(txn, workspace_id).await
    })
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // The metric queries join these two; plans made on the statistics of an empty table are slow.
        db.execute_unprepared("ANALYZE customer, customer_activity").await?;
    }
    Ok(())
}

async fn workspace(db: &DatabaseConnection, slug: &str) -> AppResult<entity::workspace::Model> {
    workspaces::service::find_by_slug(db, slug)
        .await?
        .ok_or_else(|| AppError::bad_input("workspace", format!("no workspace with slug `{slug}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, strict: bool) -> Vec<(u64, Result<(), String>)> {
        let options = ImportOptions { strict, ..Default::default() };
        let mut csv = reader(text.as_bytes(), options);
        let mut record = csv::StringRecord::new();
        std::iter::from_fn(|| next_record(&mut csv, &mut record, options)).collect()
    }

    #[test]
    fn records_report_their_physical_line_and_hostile_fields() {
        let text = "a,b\n1,2\n\"multi\nline\",3\n4,5\n6\n7,8\u{0}\n9,\t10\n";
        let strict = rows(text, true);
        let lines: Vec<u64> = strict.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 5, 6, 7, 8], "the row after a two-line field is on line 5");
        assert!(strict[0].1.is_ok() && strict[2].1.is_ok() && strict[5].1.is_ok(), "a tab is fine");
        assert!(strict[1].1.as_ref().unwrap_err().contains("spans several lines"));
        assert!(strict[3].1.as_ref().unwrap_err().contains("1 fields where the header has 2"));
        assert!(strict[4].1.as_ref().unwrap_err().contains("U+0000"));
        let lenient = rows(text, false);
        assert!(lenient[1].1.is_ok() && lenient[3].1.is_ok(), "lenient: multi-line fields and short rows pass");
        assert!(lenient[4].1.is_err(), "control characters never pass");
        // An unbalanced quote takes the rest of the file: one bad row, not silently merged ones.
        let swallowed = rows("a,b\n\"1,2\n3,4\n", true);
        assert_eq!(swallowed.len(), 1);
        assert!(swallowed[0].1.is_err());
    }
}
