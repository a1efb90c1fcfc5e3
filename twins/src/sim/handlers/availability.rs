//! Availability: failures (busy, operations and calendar bases), repairs, shifts and
//! injected outages; the preempt-resume of interrupted setups and operations.

use super::*;

impl Ctx<'_, '_> {
    /// Busy-basis failures: the time to failure runs only while processing.
    #[inline(never)]
    pub(super) fn start_busy_clock(&mut self, s: usize, k: usize) {
        if self.cfg.flags[s].busy_failures {
            let srv = &mut self.st[s].servers[k];
            srv.busy_since = self.now;
            srv.fail_token = srv.fail_token.wrapping_add(1);
            let (t, token) = (self.now + srv.to_failure.max(0.0), srv.fail_token);
            self.at(t, Event::Fail(s as u32, k as u32, token));
        }
    }

    pub(super) fn stop_busy_clock(&mut self, s: usize, k: usize) {
        if self.cfg.flags[s].busy_failures {
            let srv = &mut self.st[s].servers[k];
            srv.to_failure -= self.now - srv.busy_since;
            srv.fail_token = srv.fail_token.wrapping_add(1);
        }
    }

    pub(super) fn suspend(&mut self, s: usize, k: usize) {
        let srv = &self.st[s].servers[k];
        // A phase that ends at this very instant is not interrupted: its end event is due now
        // (it only sorts after the interruption because it was scheduled later).
        if !matches!(srv.phase, Phase::Setup | Phase::Busy) || srv.suspended || srv.phase_end <= self.now {
            return;
        }
        if srv.phase == Phase::Busy {
            self.stop_busy_clock(s, k);
        }
        let now = self.now;
        let srv = &mut self.st[s].servers[k];
        srv.remaining = srv.phase_end - now;
        srv.suspended = true;
        srv.token = srv.token.wrapping_add(1);
    }

    pub(super) fn resume(&mut self, s: usize, k: usize) {
        let now = self.now;
        let srv = &mut self.st[s].servers[k];
        if !srv.suspended {
            return;
        }
        srv.suspended = false;
        srv.phase_end = now + srv.remaining;
        srv.token = srv.token.wrapping_add(1);
        let (t, token, busy) = (srv.phase_end, srv.token, srv.phase == Phase::Busy);
        self.at(t, Event::PhaseEnd(s as u32, k as u32, token));
        if busy {
            self.start_busy_clock(s, k);
        }
    }

    pub(super) fn go_down(&mut self, s: usize, k: usize) {
        self.suspend(s, k);
        let f = self.cfg.plant.stations[s]
            .failures
            .as_ref()
            .expect("only stations with failures go down");
        let st = &mut *self.st[s];
        st.stats.failures += 1;
        let srv = &mut st.servers[k];
        srv.down = true;
        srv.down_since = self.now;
        let ttr = f.repair.sample(&mut st.rng_repair);
        self.at(self.now + ttr, Event::Repair(s as u32, k as u32));
        self.account(s, k);
        if self.external {
            self.notify_availability(s, k, true);
        }
    }

    pub(super) fn on_repair(&mut self, s: usize, k: usize) {
        let f = self.cfg.plant.stations[s]
            .failures
            .as_ref()
            .expect("only stations with failures are repaired");
        let since = self.st[s].servers[k].down_since;
        self.row(TraceKind::Down, s, k, None, since, self.now, self.now);
        if self.external {
            self.notify_availability(s, k, false);
        }
        if self.st[s].servers[k].retiring {
            self.st[s].servers[k].down = false;
            self.retire(s, k);
            return;
        }
        let st = &mut *self.st[s];
        let srv = &mut st.servers[k];
        srv.down = false;
        match f.basis {
            FailureBasis::Calendar => {
                let ttf = f.between.sample(&mut st.rng_fail);
                srv.fail_clock_start = self.now;
                srv.fail_token = srv.fail_token.wrapping_add(1);
                let token = srv.fail_token;
                self.at(self.now + ttf, Event::Fail(s as u32, k as u32, token));
            }
            FailureBasis::Busy => srv.to_failure = f.between.sample(&mut st.rng_fail),
            FailureBasis::Operations => {}
        }
        self.account(s, k);
        if self.st[s].open() {
            self.resume(s, k);
            self.pull(s, k);
        }
    }

    pub(super) fn on_shift(&mut self, c: usize) {
        let cal = &self.cfg.plant.shift_calendars[c];
        let now = SimTime::from_secs(self.now);
        let on = cal.on_shift(now);
        for s in 0..self.st.len() {
            if self.st[s].calendar == Some(c as u32) && self.st[s].off_shift == on {
                let outage = self.st[s].outage;
                self.set_station(s, !on, outage);
            }
        }
        if let Some(t) = cal.next_change(now) {
            self.at(t.secs(), Event::Shift(c as u32));
        }
    }

    /// Applies a change of the station-wide conditions — off shift, or an injected outage — to
    /// its servers: work is suspended when the station closes and resumed when it reopens.
    pub(super) fn set_station(&mut self, s: usize, off_shift: bool, outage: bool) {
        let was_open = self.st[s].open();
        if self.st[s].off_shift && !off_shift {
            let since = self.st[s].off_since;
            for k in 0..self.st[s].servers.len() {
                self.row(TraceKind::OffShift, s, k, None, since, self.now, self.now);
            }
        }
        if !self.st[s].off_shift && off_shift {
            self.st[s].off_since = self.now;
        }
        if self.st[s].outage && !outage {
            let since = self.st[s].outage_since;
            for k in 0..self.st[s].servers.len() {
                self.row(TraceKind::Down, s, k, None, since, self.now, self.now);
            }
        }
        if !self.st[s].outage && outage {
            self.st[s].outage_since = self.now;
        }
        self.st[s].off_shift = off_shift;
        self.st[s].outage = outage;
        let open = self.st[s].open();
        for k in 0..self.st[s].servers.len() {
            if was_open && !open {
                self.suspend(s, k);
            }
            self.account(s, k);
            if !was_open && open && !self.st[s].servers[k].down {
                self.resume(s, k);
                self.pull(s, k);
            }
        }
    }

    pub(super) fn on_disruption(&mut self, i: usize) {
        let d = &self.cfg.plant.disruptions[i];
        match d.kind {
            DisruptionKind::Outage { station, duration } => {
                let end = self.now + duration.secs();
                let st = &mut *self.st[station];
                st.outage_until = st.outage_until.max(end);
                let off = st.off_shift;
                self.at(end, Event::OutageEnd(station as u32));
                self.set_station(station, off, true);
            }
            DisruptionKind::ShiftChange { station, shift } => self.switch_calendar(station, shift),
        }
    }

    pub(super) fn on_outage_end(&mut self, s: usize) {
        if self.st[s].outage && !self.st[s].observed_down && self.now >= self.st[s].outage_until {
            let off = self.st[s].off_shift;
            self.set_station(s, off, false);
        }
    }
}
