//! Money: integer minor units inside, `Decimal` at the API edge, never floats.

use iso_currency::Currency;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::graphql::{AppError, AppResult};

/// The number of minor-unit digits of an ISO 4217 currency (2 for EUR, 0 for JPY, 3 for KWD).
pub fn exponent(code: &str) -> Option<u32> {
    Currency::from_code(code).and_then(|c| c.exponent()).map(u32::from)
}

/// Checks that `code` is a currency with minor units.
pub fn validate_currency(code: &str, field: &str) -> AppResult<String> {
    let code = code.trim().to_ascii_uppercase();
    match exponent(&code) {
        Some(_) => Ok(code),
        None => Err(AppError::bad_input(field, format!("`{code}` is not an ISO 4217 currency code"))),
    }
}

/// The largest amount Vafa accepts, in minor units (10 000 000 000.00 EUR): far above any real
/// order, reward or setting, and small enough that millions of them still sum within an `i64`.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

/// `amount` in minor units of `currency`. Refuses more decimals than the currency has, negative
/// amounts, and amounts above [`MAX_MINOR`].
pub fn to_minor(amount: Decimal, currency: &str, field: &str) -> AppResult<i64> {
    let exp = exponent(currency).ok_or_else(|| AppError::bad_input(field, format!("unknown currency `{currency}`")))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(AppError::bad_input(field, "amount must not be negative"));
    }
    let normalized = amount.normalize();
    if normalized.scale() > exp {
        return Err(AppError::bad_input(field, format!("{currency} amounts have at most {exp} decimal places")));
    }
    let scaled = normalized
        .checked_mul(Decimal::from(10i64.pow(exp)))
        .ok_or_else(|| AppError::bad_input(field, "amount is too large"))?;
    i64::try_from(scaled).ok().filter(|minor| *minor <= MAX_MINOR).ok_or_else(|| {
        AppError::bad_input(field, format!("amount is too large (at most {})", from_minor(MAX_MINOR, currency)))
    })
}

/// Checks minor units that arrive as integers (settings) against `0..=MAX_MINOR`.
pub fn check_minor(minor: i64, field: &str) -> AppResult<i64> {
    if (0..=MAX_MINOR).contains(&minor) {
        Ok(minor)
    } else {
        Err(AppError::bad_input(field, format!("from 0 to {MAX_MINOR} minor units")))
    }
}

/// The sum of amounts in minor units; `None` if it does not fit in an `i64`.
pub fn sum_minor(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    amounts.into_iter().try_fold(0i64, i64::checked_add)
}

/// The number of decimals amounts in `currency` are shown with.
fn scale(currency: &str) -> u32 {
    exponent(currency).unwrap_or(2)
}

/// Minor units back to a decimal with the currency's scale (`1999` EUR → `19.99`); also sums of
/// amounts, which may leave an `i64`.
pub fn from_minor(minor: impl Into<i128>, currency: &str) -> Decimal {
    // Beyond 96 bits only with ~10¹⁷ amounts of `MAX_MINOR`: saturate rather than panic.
    Decimal::try_from_i128_with_scale(minor.into(), scale(currency)).unwrap_or(Decimal::MAX)
}

/// How every money output is brought to the currency's scale: half away from zero, as a till, a
/// spreadsheet's `ROUND` and a pocket calculator do (`10.005` → `10.01`). Shown amounts are not
/// added up again, so banker's rounding (unbiased over many sums) gains nothing and surprises readers.
const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// `amount` as the API shows money: rounded to the currency's minor unit ([`ROUNDING`]) and with
/// exactly that many decimals, so zero is `0.00` in EUR and `0` in JPY.
pub fn at_scale(amount: Decimal, currency: &str) -> Decimal {
    let scale = scale(currency);
    let mut shown = amount.round_dp_with_strategy(scale, ROUNDING);
    shown.rescale(scale);
    shown
}

/// The mean of `count` amounts that add up to `total_minor`, at the currency's scale; `None` for
/// no amounts.
pub fn mean(total_minor: i128, count: u64, currency: &str) -> Option<Decimal> {
    let total = from_minor(total_minor, currency);
    total.checked_div(Decimal::from(count)).map(|m| at_scale(m, currency))
}

/// A model's estimate (a float, in currency units) at the currency's scale; `None` when it is not
/// finite or too large for a decimal.
pub fn from_estimate(value: f64, currency: &str) -> Option<Decimal> {
    Decimal::from_f64_retain(value).map(|d| at_scale(d, currency))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn amounts_round_trip_through_minor_units() {
        assert_eq!(to_minor(d("19.99"), "EUR", "a").unwrap(), 1999);
        assert_eq!(to_minor(d("19.90"), "EUR", "a").unwrap(), 1990);
        assert_eq!(to_minor(d("19.9000"), "EUR", "a").unwrap(), 1990, "trailing zeros are not precision");
        assert_eq!(to_minor(d("1500"), "JPY", "a").unwrap(), 1500);
        assert_eq!(to_minor(d("1.234"), "KWD", "a").unwrap(), 1234);
        assert_eq!(from_minor(1999, "EUR").to_string(), "19.99");
        assert_eq!(from_minor(1500, "JPY").to_string(), "1500");
        assert_eq!(from_minor(0, "USD").to_string(), "0.00");
    }

    #[test]
    fn impossible_amounts_are_bad_input() {
        assert!(to_minor(d("19.999"), "EUR", "a").is_err());
        assert!(to_minor(d("1.5"), "JPY", "a").is_err());
        assert!(to_minor(d("-1"), "EUR", "a").is_err());
        assert!(to_minor(d("99999999999999999999"), "EUR", "a").is_err());
        assert!(to_minor(d("92233720368547758.07"), "EUR", "a").is_err(), "i64::MAX minor units");
        assert!(to_minor(d("10000000000.01"), "EUR", "a").is_err());
        assert_eq!(to_minor(d("10000000000.00"), "EUR", "a").unwrap(), MAX_MINOR);
        assert_eq!(to_minor(d("1000000000000"), "JPY", "a").unwrap(), MAX_MINOR);
        assert!(check_minor(MAX_MINOR + 1, "a").is_err() && check_minor(-1, "a").is_err());
        assert_eq!(sum_minor([MAX_MINOR, MAX_MINOR]), Some(2 * MAX_MINOR));
        assert_eq!(sum_minor([i64::MAX, 1]), None);
        assert!(validate_currency("XYZ", "c").is_err());
        assert_eq!(validate_currency("eur", "c").unwrap(), "EUR");
    }

    #[test]
    fn money_is_shown_at_the_currency_scale_rounded_half_away_from_zero() {
        assert_eq!(at_scale(d("10.005"), "EUR").to_string(), "10.01", "half away from zero, not to even");
        assert_eq!(at_scale(d("10.015"), "EUR").to_string(), "10.02");
        assert_eq!(at_scale(d("-2.5"), "JPY").to_string(), "-3");
        assert_eq!(at_scale(d("0"), "USD").to_string(), "0.00");
        assert_eq!(at_scale(d("7"), "KWD").to_string(), "7.000");
        assert_eq!(at_scale(d("129.023"), "JPY").to_string(), "129");
        // ISO 4217 gives the rial two decimals (in use, amounts are whole rials: shown as `.00`).
        assert_eq!(at_scale(d("129.02300456621004566210045662"), "IRR").to_string(), "129.02");
        assert_eq!(mean(28_256_038, 2_190, "USD").map(|m| m.to_string()).as_deref(), Some("129.02"));
        assert_eq!(mean(2001, 2, "EUR").unwrap().to_string(), "10.01");
        assert_eq!(mean(0, 3, "EUR").unwrap().to_string(), "0.00");
        assert_eq!(mean(100, 3, "JPY").unwrap().to_string(), "33");
        assert_eq!(mean(100, 0, "EUR"), None);
        assert_eq!(from_estimate(1.0 / 3.0, "EUR").unwrap().to_string(), "0.33");
        assert_eq!(from_estimate(f64::NAN, "EUR"), None);
        assert_eq!(from_minor(i128::from(i64::MAX) * 4, "EUR").to_string(), "368934881474191032.28");
    }
}
