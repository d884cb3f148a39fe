//! Throttling of login attempts, per account and per client IP, so passwords cannot be guessed
//! at speed. In-process: each server instance keeps its own counters.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::graphql::{AppError, AppResult};

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

/// Keys kept before stale ones are swept.
const SWEEP_THRESHOLD: usize = 10_000;

impl Default for LoginLimiter {
    fn default() -> Self {
        // 5 attempts at once per account, then one every 30 s; 20 per IP, then one every 3 s.
        let per_account = Quota::with_period(Duration::from_secs(30))
            .map(|q| q.allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN)));
        let per_ip = Quota::with_period(Duration::from_secs(3))
            .map(|q| q.allow_burst(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN)));
        LoginLimiter {
            per_account: DefaultKeyedRateLimiter::keyed(per_account.unwrap_or(Quota::per_minute(NonZeroU32::MIN))),
            per_ip: DefaultKeyedRateLimiter::keyed(per_ip.unwrap_or(Quota::per_minute(NonZeroU32::MIN))),
        }
    }
}

impl LoginLimiter {
    /// Counts one login attempt; `RATE_LIMITED` once the account or the IP is over its quota.
    pub fn check(&self, account: &str, ip: Option<IpAddr>) -> AppResult<()> {
        if self.per_account.len() > SWEEP_THRESHOLD {
            self.per_account.retain_recent();
        }
        if self.per_ip.len() > SWEEP_THRESHOLD {
            self.per_ip.retain_recent();
        }
        let clock = governor::clock::DefaultClock::default();
        let account_check = self.per_account.check_key(&account.to_owned());
        let ip_check = match ip {
            Some(ip) => self.per_ip.check_key(&ip),
            None => Ok(()),
        };
        match account_check.and(ip_check) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(AppError::RateLimited {
                message: "too many login attempts; try again later".to_owned(),
                retry_after_secs: not_until.wait_time_from(clock.now()).as_secs().max(1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_throttled_after_its_burst_without_affecting_others() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            limiter.check("ws/a@example.com", Some(ip)).unwrap();
        }
        assert!(matches!(limiter.check("ws/a@example.com", Some(ip)), Err(AppError::RateLimited { .. })));
        assert!(limiter.check("ws/b@example.com", Some(ip)).is_ok());
    }

    #[test]
    fn one_ip_cannot_spray_many_accounts() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..20 {
            limiter.check(&format!("ws/{i}@example.com"), Some(ip)).unwrap();
        }
        assert!(matches!(limiter.check("ws/new@example.com", Some(ip)), Err(AppError::RateLimited { .. })));
        assert!(limiter.check("ws/new@example.com", Some("192.0.2.3".parse().unwrap())).is_ok());
    }
}
