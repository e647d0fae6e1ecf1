//! Time as an input: the instant type the connection's timers use.

use core::time::Duration;

/// A point in time, in whole milliseconds since an epoch the caller picks
/// (the program's start, the connection's start, the UNIX epoch…).
///
/// The connection never reads a clock: the caller passes `now` to
/// [`Connection::handle_timeout`](crate::Connection::handle_timeout) and
/// gets deadlines back from
/// [`Connection::poll_timeout`](crate::Connection::poll_timeout), all
/// measured from the same epoch. It works without `std`, and tests can run
/// hours of virtual time in microseconds.
///
/// Converting a clock reading truncates to the millisecond, and deadlines are
/// whole milliseconds: a caller that sleeps until a deadline and converts its
/// clock again reads at least that deadline, so it never wakes early.
///
/// ```
/// use core::time::Duration;
/// use wsmachine::Instant;
///
/// let start = Instant::from_millis(1_000);
/// let later = start + Duration::from_secs(2);
/// assert_eq!(later.as_millis(), 3_000);
/// assert_eq!(later.saturating_duration_since(start), Duration::from_secs(2));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// ```
///
/// With `std`, measure from a `std::time::Instant` taken once:
///
/// ```
/// let epoch = std::time::Instant::now();
/// let now = wsmachine::Instant::from_duration(epoch.elapsed());
/// assert!(now.as_millis() < 60_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself. A deadline at `ZERO` is due at once.
    pub const ZERO: Instant = Instant(0);

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis)
    }

    /// The instant `since_epoch` after the epoch, truncated to the
    /// millisecond (and saturating after about 584 million years).
    pub const fn from_duration(since_epoch: Duration) -> Self {
        let millis = since_epoch.as_millis();
        Instant(if millis > u64::MAX as u128 { u64::MAX } else { millis as u64 })
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The time since the epoch.
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0)
    }

    /// `self + duration`, rounded up to the next whole millisecond so that
    /// a deadline is never earlier than asked; saturates at the end of time.
    pub const fn saturating_add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(millis_rounded_up(duration)))
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    /// As [`Instant::saturating_add`].
    fn add(self, duration: Duration) -> Instant {
        self.saturating_add(duration)
    }
}

/// A duration in whole milliseconds, rounded up and saturating.
pub(crate) const fn millis_rounded_up(duration: Duration) -> u64 {
    let millis = duration.as_millis() + if duration.subsec_nanos() % 1_000_000 == 0 { 0 } else { 1 };
    if millis > u64::MAX as u128 {
        u64::MAX
    } else {
        millis as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_rounds_up_to_the_millisecond() {
        let t = Instant::from_millis(10);
        assert_eq!(t + Duration::from_micros(1), Instant::from_millis(11));
        assert_eq!(t + Duration::from_millis(5), Instant::from_millis(15));
        assert_eq!(t + Duration::from_nanos(5_000_001), Instant::from_millis(16));
        assert_eq!(t + Duration::ZERO, t);
    }

    #[test]
    fn conversions_truncate_and_saturate() {
        assert_eq!(Instant::from_duration(Duration::from_micros(2_999)), Instant::from_millis(2));
        assert_eq!(Instant::from_duration(Duration::MAX).as_millis(), u64::MAX);
        assert_eq!(Instant::from_millis(u64::MAX) + Duration::from_secs(1), Instant::from_millis(u64::MAX));
        assert_eq!(Instant::from_millis(1_500).as_duration(), Duration::from_millis(1_500));
    }
}
