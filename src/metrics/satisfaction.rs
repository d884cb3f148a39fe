//! NPS and CSAT (docs/metrics.md §4). Pure.

/// Net Promoter Score of 0–10 answers: promoters 9–10, passives 7–8, detractors 0–6.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nps {
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

impl Nps {
    pub fn of(scores: impl IntoIterator<Item = i32>) -> Self {
        let mut n = Nps::default();
        for s in scores {
            match s {
                9..=10 => n.promoters += 1,
                7..=8 => n.passives += 1,
                0..=6 => n.detractors += 1,
                _ => {} // rejected at input; never counted
            }
        }
        n
    }

    pub fn responses(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// −100 … +100; null without responses.
    pub fn score(&self) -> Option<f64> {
        let n = self.responses();
        (n > 0).then(|| 100.0 * (self.promoters as f64 - self.detractors as f64) / n as f64)
    }
}

/// CSAT of 1–5 answers: the share of 4 and 5, and the mean rating (a different number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Csat {
    pub satisfied: u64,
    pub responses: u64,
    pub rating_sum: u64,
}

impl Csat {
    pub fn of(scores: impl IntoIterator<Item = i32>) -> Self {
        let mut c = Csat::default();
        for s in scores.into_iter().filter(|s| (1..=5).contains(s)) {
            c.responses += 1;
            c.satisfied += u64::from(s >= 4);
            c.rating_sum += s as u64;
        }
        c
    }

    pub fn score(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.satisfied as f64 / self.responses as f64)
    }

    pub fn average_rating(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.rating_sum as f64 / self.responses as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_test_vectors() {
        let all = Nps::of(0..=10);
        assert!((all.score().unwrap() - (-45.454_545_454_545_45)).abs() < 1e-12);
        assert_eq!(Nps::of([7, 8, 7]).score(), Some(0.0));
        assert_eq!(Nps::of([9, 10, 10]).score(), Some(100.0));
        assert_eq!(Nps::of([]).score(), None);
    }

    #[test]
    fn csat_is_the_share_of_fours_and_fives() {
        let c = Csat::of([5, 4, 3, 1]);
        assert_eq!((c.score(), c.average_rating()), (Some(0.5), Some(3.25)));
        assert_eq!(Csat::of([]).score(), None);
    }
}
