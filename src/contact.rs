//! Normalising contact details, so the same person is recognised however they were typed.

use crate::graphql::{AppError, AppResult};

/// Lower-cased, trimmed, and plausibly an address; `field` names the input in errors.
pub fn normalize_email(email: &str, field: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid { Ok(email) } else { Err(AppError::bad_input(field, "not a valid email address")) }
}

/// Digits only, with a leading `+` kept: `+49 (30) 123-456` → `+4930123456`.
pub fn normalize_phone(phone: &str, field: &str) -> AppResult<String> {
    let trimmed = phone.trim();
    let plus = trimmed.starts_with('+');
    let mut digits = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' | '/' | '+' => {}
            _ => return Err(AppError::bad_input(field, "a phone number has only digits, spaces and + - ( ) . /")),
        }
    }
    if !(6..=15).contains(&digits.len()) {
        return Err(AppError::bad_input(field, "a phone number has 6 to 15 digits"));
    }
    Ok(if plus { format!("+{digits}") } else { digits })
}

/// A display name: trimmed, 1 to 200 characters.
pub fn normalize_name(name: &str, field: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_input(field, "name must have 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ", "e").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "ada@.com"] {
            assert!(normalize_email(bad, "e").is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_keep_digits_and_a_leading_plus() {
        assert_eq!(normalize_phone("+49 (30) 123-456", "p").unwrap(), "+4930123456");
        assert_eq!(normalize_phone("030 123 456", "p").unwrap(), "030123456");
        assert!(normalize_phone("12345", "p").is_err());
        assert!(normalize_phone("call me", "p").is_err());
    }
}
