//! Run-time commands ([`Command`]): parameters an optimizer or live loop changes without
//! re-parsing the plant, capacity changes (appending and retiring servers) and calendar switches.

use super::*;

impl Ctx<'_, '_> {
    /// Takes server (s, k) out of service for good (it is idle or down).
    #[inline(never)]
    pub(super) fn retire(&mut self, s: usize, k: usize) {
        let srv = &mut self.st[s].servers[k];
        srv.retiring = false;
        srv.retired = true;
        srv.down = true;
        srv.fail_token = srv.fail_token.wrapping_add(1);
        self.account(s, k);
    }

    /// Station `s` works to shift calendar `shift` from now on (`None`: always on shift).
    pub(super) fn switch_calendar(&mut self, s: usize, shift: Option<usize>) {
        self.st[s].calendar = shift.map(|c| c as u32);
        let on = shift.is_none_or(|c| self.cfg.plant.shift_calendars[c].on_shift(SimTime::from_secs(self.now)));
        let outage = self.st[s].outage;
        self.set_station(s, !on, outage);
    }

    /// Applies a [`Command`] from outside the model at the current time.
    pub(super) fn command(&mut self, c: Command) {
        match c {
            Command::SetDown { station, down } => {
                let s = station as usize;
                if s >= self.st.len() || self.st[s].observed_down == down {
                    return;
                }
                self.st[s].observed_down = down;
                let outage = down || self.now < self.st[s].outage_until;
                let off = self.st[s].off_shift;
                self.set_station(s, off, outage);
                for k in 0..self.st[s].servers.len() {
                    self.notify_availability(s, k, down);
                }
            }
            Command::SetSpeed { station, speed } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && speed.is_finite()
                    && speed > 0.0
                {
                    st.speed = speed;
                }
            }
            Command::SetPartsDone { station, count } => {
                if let Some(st) = self.st.get_mut(station as usize) {
                    st.stats.ops_done = count;
                }
            }
            // Applied before the batch (see `run_batch`).
            Command::SetProcessTime { .. } => {}
            Command::SetProcessScale { station, scale } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && scale.is_finite()
                    && scale > 0.0
                {
                    st.scale = scale;
                }
            }
            Command::SetModelParameter { station, param, value } => {
                let s = station as usize;
                let Some(m) = self.cfg.plant.stations.get(s).and_then(|st| st.model.as_ref()) else {
                    return;
                };
                let Some(p) = m.params.get(param as usize) else { return };
                if !(p.min..=p.max).contains(&value) {
                    return;
                }
                let now = self.now;
                if let Some(h) = self.st[s].model.as_mut() {
                    h.advance(m, now);
                    h.params[param as usize] = value;
                }
            }
            Command::SetScrap { station, probability } => {
                if let Some(st) = self.st.get_mut(station as usize)
                    && (0.0..=1.0).contains(&probability)
                {
                    st.scrap = probability;
                }
            }
            Command::SetBufferCapacity { buffer, capacity } => {
                let b = buffer as usize;
                if b < self.bu.len() {
                    self.bu[b].capacity = capacity.map_or(usize::MAX, |c| c as usize);
                    self.space_freed(b);
                }
            }
            Command::SetArrivalRate { source, factor } => {
                if let Some(so) = self.so.get_mut(source as usize)
                    && factor.is_finite()
                    && factor > 0.0
                {
                    so.rate = factor;
                }
            }
            Command::SetShiftCalendar { station, calendar } => {
                let s = station as usize;
                if s < self.st.len() && calendar.is_none_or(|c| (c as usize) < self.cfg.plant.shift_calendars.len()) {
                    self.switch_calendar(s, calendar.map(|c| c as usize));
                }
            }
            Command::SetCapacity { station, servers } => {
                if (station as usize) < self.st.len() {
                    self.set_capacity(station as usize, servers as usize);
                }
            }
        }
    }

    /// Brings station `s` to `n` servers in service (see [`Command::SetCapacity`]).
    pub(super) fn set_capacity(&mut self, s: usize, n: usize) {
        let in_service = |st: &StationHot| st.servers.iter().filter(|v| !v.retired && !v.retiring).count();
        let mut have = in_service(self.st[s]);
        // Fewer: retire the last servers in service, each when it next frees.
        let mut k = self.st[s].servers.len();
        while have > n && k > 0 {
            k -= 1;
            let v = &mut self.st[s].servers[k];
            if v.retired || v.retiring {
                continue;
            }
            have -= 1;
            if v.phase == Phase::Idle && !v.down {
                self.retire(s, k);
            } else {
                v.retiring = true;
            }
        }
        // More: append new servers (indices are never reused). Before time 0's start event
        // they are drawn as the plant file's servers are; the start event starts them.
        let plant = &self.cfg.plant;
        while have < n {
            let k = self.st[s].servers.len();
            let now = self.now;
            let started = self.plant.started;
            let st = &mut *self.st[s];
            if started {
                let (srv, fail_at) = new_server(&plant.stations[s], &mut st.rng_fail, now);
                st.servers.push(srv);
                if let Some(t) = fail_at {
                    let token = st.servers[k].fail_token;
                    self.at(t, Event::Fail(s as u32, k as u32, token));
                }
                self.pull(s, k);
            } else {
                let mut srv = Server::new();
                if let Some(f) = &plant.stations[s].failures
                    && f.basis != FailureBasis::Calendar
                {
                    srv.to_failure = draw_to_failure(&f.between, f.basis, &mut st.rng_fail);
                }
                st.servers.push(srv);
            }
            have += 1;
        }
    }
}
