//! The event calendar: a 4-ary min-heap ordered by (time, sequence number).
//!
//! Why this shape: ECS_HOT_LOOP.md measured a 4-ary heap keyed by one `u128`
//! (`time bits << 64 | sequence`) at 0.89× the cost of `std::collections::BinaryHeap` with a
//! tuple comparator. For non-negative finite `f64`, the IEEE-754 bit pattern read as an unsigned
//! integer orders exactly like the number, so one integer comparison gives "earlier time first,
//! then first scheduled first" — the FIFO tie-break that makes same-instant events deterministic.

use crate::time::SimTime;

/// A scheduled event: its time, its sequence number and the domain's payload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scheduled<E> {
    /// When the event fires.
    pub time: SimTime,
    /// Order of scheduling; ties at one instant fire in increasing `seq`.
    pub seq: u64,
    /// The domain's event.
    pub event: E,
}

/// Deterministic event calendar with FIFO tie-breaking.
///
/// Entries keep their key and payload side by side, so a sift moves one value per level, and
/// the sifts move a "hole" rather than swapping at each level. A plant's calendar holds about
/// one entry per server plus a few timers (tens to a few hundred entries): a 4-ary heap keeps
/// it shallow, and a pop's four child keys sit in one or two cache lines.
#[derive(Clone, Debug)]
pub struct Calendar<E> {
    heap: Vec<Entry<E>>,
    next_seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    key: u128,
    event: E,
}

#[cold]
#[inline(never)]
#[track_caller]
fn invalid_time(t: f64) -> ! {
    panic!("event scheduled at invalid time {t}")
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn key(time: SimTime, seq: u64) -> u128 {
    ((time.secs().to_bits() as u128) << 64) | seq as u128
}

#[inline]
fn time_of(key: u128) -> SimTime {
    SimTime::from_secs(f64::from_bits((key >> 64) as u64))
}

impl<E> Calendar<E> {
    /// An empty calendar.
    pub fn new() -> Self {
        Calendar {
            heap: Vec::new(),
            next_seq: 0,
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `time` and returns its sequence number.
    ///
    /// # Panics
    /// If `time` is negative, NaN or infinite: such a time is a modelling bug that would break
    /// the ordering of the whole calendar, so it is refused loudly rather than mis-ordered.
    #[inline(always)]
    pub fn schedule(&mut self, time: SimTime, event: E) -> u64 {
        // Adding +0.0 turns -0.0 (sign bit set: it would sort after everything) into +0.0.
        // Then one integer comparison refuses negative numbers (sign bit), NaN and infinity
        // (bit patterns at or above +inf's).
        let t = time.secs() + 0.0;
        if t.to_bits() >= f64::INFINITY.to_bits() {
            invalid_time(t);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            key: key(SimTime::from_secs(t), seq),
            event,
        };
        self.sift_up(entry);
        seq
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|e| time_of(e.key))
    }

    /// Removes and returns the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<Scheduled<E>> {
        let last = self.heap.pop()?;
        let top = if self.heap.is_empty() {
            last
        } else {
            self.sift_down_from_root(last)
        };
        Some(Scheduled {
            time: time_of(top.key),
            seq: top.key as u64,
            event: top.event,
        })
    }

    /// Removes and returns the next event if it is due at or before `limit`.
    #[inline]
    pub fn pop_due(&mut self, limit: SimTime) -> Option<Scheduled<E>> {
        let first = self.heap.first()?;
        if time_of(first.key).secs() <= limit.secs() {
            self.pop()
        } else {
            None
        }
    }

    /// The pending events, in no particular order (for saving a run's state).
    pub fn entries(&self) -> impl Iterator<Item = Scheduled<E>> + '_
    where
        E: Copy,
    {
        self.heap.iter().map(|e| Scheduled {
            time: time_of(e.key),
            seq: e.key as u64,
            event: e.event,
        })
    }

    /// The sequence number the next scheduled event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// A calendar holding `entries` with their own times and sequence numbers, whose next
    /// event is numbered `next_seq` (restoring a saved run: it pops in the very order the saved
    /// calendar would have). Fails on a time that is negative, NaN or infinite, or a sequence
    /// number that is not below `next_seq` or not unique.
    pub fn from_entries(next_seq: u64, entries: impl IntoIterator<Item = Scheduled<E>>) -> Result<Self, String> {
        let mut cal = Calendar::new();
        let mut seen = std::collections::HashSet::new();
        for s in entries {
            let t = s.time.secs() + 0.0;
            if t.to_bits() >= f64::INFINITY.to_bits() {
                return Err(format!("event #{} at invalid time {t}", s.seq));
            }
            if s.seq >= next_seq || !seen.insert(s.seq) {
                return Err(format!(
                    "event #{} repeats a sequence number or is not below {next_seq}",
                    s.seq
                ));
            }
            cal.sift_up(Entry {
                key: key(SimTime::from_secs(t), s.seq),
                event: s.event,
            });
        }
        cal.next_seq = next_seq;
        Ok(cal)
    }

    /// Drops every pending event (sequence numbers keep counting up).
    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Appends `entry` and moves it up to its place: parents greater than it move down into
    /// the hole, and it is written once.
    #[inline(always)]
    fn sift_up(&mut self, entry: Entry<E>) {
        let mut i = self.heap.len();
        self.heap.push(entry);
        let heap = &mut self.heap[..];
        let key = heap[i].key;
        while i > 0 {
            let parent = (i - 1) / 4;
            if key < heap[parent].key {
                heap.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    /// Puts `last` (the entry taken off the end) at the root in place of the minimum, sifts it
    /// down, and returns the old minimum.
    #[inline]
    fn sift_down_from_root(&mut self, last: Entry<E>) -> Entry<E> {
        let heap = &mut self.heap[..];
        let top = std::mem::replace(&mut heap[0], last);
        let n = heap.len();
        let key = heap[0].key;
        let mut i = 0;
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let end = (first + 4).min(n);
            let mut best = first;
            let mut best_key = heap[first].key;
            for (j, e) in heap[first + 1..end].iter().enumerate() {
                if e.key < best_key {
                    best = first + 1 + j;
                    best_key = e.key;
                }
            }
            if best_key < key {
                heap.swap(i, best);
                i = best;
            } else {
                break;
            }
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_instant_is_fifo() {
        let mut c = Calendar::new();
        for i in 0..10 {
            c.schedule(SimTime::from_secs(5.0), i);
        }
        c.schedule(SimTime::from_secs(1.0), 99);
        assert_eq!(c.pop().unwrap().event, 99);
        let order: Vec<i32> = std::iter::from_fn(|| c.pop().map(|s| s.event)).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }

    #[test]
    #[should_panic(expected = "invalid time")]
    fn refuses_negative_times() {
        Calendar::new().schedule(SimTime::from_secs(-1.0), ());
    }

    #[test]
    #[should_panic(expected = "invalid time")]
    fn refuses_nan() {
        Calendar::new().schedule(SimTime::from_secs(f64::NAN), ());
    }

    #[test]
    fn negative_zero_sorts_first() {
        let mut c = Calendar::new();
        c.schedule(SimTime::from_secs(1.0), 1);
        c.schedule(SimTime::from_secs(-0.0), 0);
        assert_eq!(c.pop().unwrap().event, 0);
    }

    proptest! {
        /// Popped events come out sorted by (time, seq): time never goes backwards, and equal
        /// times keep the order in which they were scheduled — checked against a sort.
        #[test]
        fn pops_in_time_then_fifo_order(times in prop::collection::vec(0u32..50, 0..300)) {
            let mut c = Calendar::new();
            for (i, &t) in times.iter().enumerate() {
                c.schedule(SimTime::from_secs(t as f64 * 0.5), i);
            }
            let mut expected: Vec<(u32, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<usize> = std::iter::from_fn(|| c.pop().map(|s| s.event)).collect();
            prop_assert_eq!(got, expected.into_iter().map(|(_, i)| i).collect::<Vec<_>>());
        }

        /// Interleaved schedule/pop: no popped time is earlier than one popped before it,
        /// as long as new events are never scheduled in the past.
        #[test]
        fn time_never_goes_backwards(ops in prop::collection::vec((0u32..100, any::<bool>()), 1..400)) {
            let mut c = Calendar::new();
            let mut now = 0.0;
            for (dt, pop) in ops {
                if pop {
                    if let Some(s) = c.pop() {
                        prop_assert!(s.time.secs() >= now);
                        now = s.time.secs();
                    }
                } else {
                    c.schedule(SimTime::from_secs(now + dt as f64), ());
                }
            }
        }
    }
}
