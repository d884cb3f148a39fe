//! RFM quintile scores (docs/metrics.md §7) with the deterministic tie rule, and named segments.
//!
//! Segments use the R × F grid of docs/metrics.md §7, with its "Hibernating" block split by recency so
//! the eleven segments the product names all exist: R = 1 with F 1–2 is **Lost**, R = 2 with F 1–2
//! is **Hibernating**.
//!
//! | R \ F | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | 5 | New | Potential loyalist | Potential loyalist | Champions | Champions |
//! | 4 | Promising | Potential loyalist | Potential loyalist | Loyal | Loyal |
//! | 3 | About to sleep | About to sleep | Need attention | Loyal | Loyal |
//! | 2 | Hibernating | Hibernating | At risk | At risk | Cannot lose them |
//! | 1 | Lost | Lost | At risk | At risk | Cannot lose them |

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RfmSegment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CannotLoseThem,
    Hibernating,
    Lost,
}

pub fn segment(r: u8, f: u8) -> RfmSegment {
    use RfmSegment::*;
    match (r, f) {
        (5, 4..) => Champions,
        (3..=4, 4..) => Loyal,
        (4..=5, 2..=3) => PotentialLoyalist,
        (5, _) => New,
        (4, _) => Promising,
        (3, 3) => NeedAttention,
        (3, _) => AboutToSleep,
        (..=2, 5..) => CannotLoseThem,
        (..=2, 3..=4) => AtRisk,
        (2, _) => Hibernating,
        _ => Lost,
    }
}

/// One customer's inputs as of the analysis instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inputs {
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: RfmSegment,
}

/// The workspace's distribution: each input sorted, so a score is two binary searches.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    recency: Vec<i64>,
    frequency: Vec<i64>,
    monetary: Vec<i64>,
}

impl Distribution {
    pub fn new(all: &[Inputs]) -> Self {
        let sorted = |pick: fn(&Inputs) -> i64| {
            let mut values: Vec<i64> = all.iter().map(pick).collect();
            values.sort_unstable();
            values
        };
        Distribution {
            recency: sorted(|i| i.recency_days),
            frequency: sorted(|i| i.frequency),
            monetary: sorted(|i| i.monetary_minor),
        }
    }

    pub fn len(&self) -> usize {
        self.frequency.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }

    /// `1 + floor(5 × below / n)`: equal values share the lowest score of their block.
    fn quintile(below: usize, n: usize) -> u8 {
        (1 + 5 * below / n) as u8
    }

    /// Null with fewer than five customers: quintiles mean nothing there.
    pub fn scores(&self, inputs: Inputs) -> Option<Scores> {
        let n = self.len();
        if n < 5 {
            return None;
        }
        let below = |values: &[i64], v: i64| values.partition_point(|x| *x < v);
        // Recency: fewer days is better, so count customers with strictly more days.
        let above = n - self.recency.partition_point(|x| *x <= inputs.recency_days);
        let r = Self::quintile(above, n);
        let f = Self::quintile(below(&self.frequency, inputs.frequency), n);
        let m = Self::quintile(below(&self.monetary, inputs.monetary_minor), n);
        Some(Scores { r, f, m, segment: segment(r, f) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(recency_days: i64, frequency: i64, monetary_minor: i64) -> Inputs {
        Inputs { recency_days, frequency, monetary_minor }
    }

    #[test]
    fn ties_share_the_lowest_score_of_their_block() {
        // Ten customers; six buy once, so F = 2 and 3 stay empty.
        let all: Vec<Inputs> = (0..10).map(|i| inputs(i * 10, if i < 6 { 1 } else { i - 4 }, (i + 1) * 1000)).collect();
        let d = Distribution::new(&all);
        let f: Vec<u8> = all.iter().map(|i| d.scores(*i).unwrap().f).collect();
        assert_eq!(f, [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
        let m: Vec<u8> = all.iter().map(|i| d.scores(*i).unwrap().m).collect();
        assert_eq!(m, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Recency 0 days is the best.
        let r: Vec<u8> = all.iter().map(|i| d.scores(*i).unwrap().r).collect();
        assert_eq!(r, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
        // The input order does not matter.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(Distribution::new(&reversed).scores(all[7]), d.scores(all[7]));
    }

    #[test]
    fn fewer_than_five_customers_have_no_scores() {
        let all = vec![inputs(1, 1, 1); 4];
        assert_eq!(Distribution::new(&all).scores(all[0]), None);
    }

    #[test]
    fn every_cell_of_the_grid_has_a_segment() {
        use RfmSegment::*;
        assert_eq!(segment(5, 5), Champions);
        assert_eq!(segment(3, 4), Loyal);
        assert_eq!(segment(4, 2), PotentialLoyalist);
        assert_eq!(segment(5, 1), New);
        assert_eq!(segment(4, 1), Promising);
        assert_eq!(segment(3, 3), NeedAttention);
        assert_eq!(segment(3, 2), AboutToSleep);
        assert_eq!(segment(2, 4), AtRisk);
        assert_eq!(segment(1, 5), CannotLoseThem);
        assert_eq!(segment(2, 1), Hibernating);
        assert_eq!(segment(1, 2), Lost);
        let named: std::collections::HashSet<_> = (1..=5).flat_map(|r| (1..=5).map(move |f| segment(r, f))).collect();
        assert_eq!(named.len(), 11);
    }
}
