//! Guarded write-back: the only way a value reaches the plant.
//!
//! A [`WriteBack::request`] goes through the [`Guard`](crate::guard::Guard) (limits, rate,
//! permissive, stale inputs), then — unless in dry-run (shadow) mode, which logs but never
//! writes — the write itself, then a read-back that must confirm the value. Every request, whatever
//! its outcome, is appended to the audit log (JSON lines) and the log is flushed to disk
//! **before** the request returns. [`WriteBack::watchdog`] writes each tag's safe value when the
//! loop that controls it has gone quiet for longer than its watchdog period (or, without a safe
//! value, simply stops: nothing is written until a new request arrives).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::guard::{Context, Guard, Refusal};

/// The capability to send a write to a device ([`Drivers::write`] demands it). Its field is
/// private to this module, so only [`WriteBack`] can make one: no code path reaches a device
/// without the guard, the read-back and the audit log. Outside this module it cannot be built:
///
/// ```compile_fail
/// let cap = twinworks_adapters::writeback::DeviceWrite { _sealed: () };
/// ```
pub struct DeviceWrite {
    _sealed: (),
}
use crate::io::{DeviceError, Drivers};
use crate::tagmap::{Address, DataType, Tag};

/// What happened to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written and (if asked) confirmed by read-back.
    Written,
    /// Refused by the guard.
    Rejected,
    /// Dry run: passed the guard, not written.
    DryRun,
    /// Passed the guard, but the write or its read-back failed.
    Failed,
}

/// One line of the audit log.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AuditRecord {
    /// Wall-clock time (RFC 3339, UTC).
    pub time: String,
    /// Who or which loop asked.
    pub requester: String,
    /// Tag name.
    pub tag: String,
    /// The value asked for.
    pub requested: f64,
    /// What happened.
    pub outcome: Outcome,
    /// Why (refusal or failure), if not written.
    pub reason: Option<String>,
    /// The value sent to the plant.
    pub written: Option<f64>,
    /// The value read back after the write.
    pub readback: Option<f64>,
    /// The device's own error when the write or its read-back failed: a refusal by the device
    /// apart from a link failure (`{"kind": "refused" | "link" | "unsupported", "message"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_error: Option<DeviceError>,
}

/// Append-only JSON-lines audit log; every record is flushed and synced before `append` returns.
pub struct AuditLog {
    file: File,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Where it writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (a write's [`AuditRecord`], a publish's
    /// [`crate::io::PublishRecord`]) and syncs it to disk.
    pub fn append(&mut self, r: &impl Serialize) -> io::Result<()> {
        let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }
}

/// RFC 3339 UTC time stamp of a wall-clock instant (whole milliseconds).
pub fn rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// When each tag was last received (shared with the live mirror); `None` = never.
pub type Freshness = Arc<Mutex<Vec<Option<Instant>>>>;

/// The write-back service.
pub struct WriteBack {
    drivers: Drivers,
    guard: Guard,
    audit: AuditLog,
    dry_run: bool,
    fresh: Option<Freshness>,
    epoch: Instant,
    /// Per tag: when a loop last asked (for the watchdog), and whether the watchdog has acted.
    control: HashMap<usize, (Instant, bool)>,
}

impl WriteBack {
    /// A write-back on `drivers`, auditing to `audit`. With `fresh`, input staleness comes from
    /// the live mirror's receive times; without, each input is read from the plant on request
    /// (a failed read counts as stale).
    pub fn new(drivers: Drivers, audit: AuditLog, dry_run: bool, fresh: Option<Freshness>) -> WriteBack {
        WriteBack {
            drivers,
            guard: Guard::new(),
            audit,
            dry_run,
            fresh,
            epoch: Instant::now(),
            control: HashMap::new(),
        }
    }

    /// Whether this is a dry run (shadow mode).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    async fn context(&self, tag: &Tag) -> Context {
        let map = self.drivers.map().clone();
        let spec = tag.write.as_ref().expect("checked writable");
        let mut ctx = Context::default();
        if spec.max_rate.is_some() && map.find(&tag.name).is_some() {
            let i = map.find(&tag.name).unwrap();
            match self.drivers.read(i).await {
                Ok(v) => ctx.current = Some(v),
                Err(e) => ctx.current_error = Some(e.to_string()),
            }
        }
        if let Some(p) = &spec.permissive {
            let i = map.find(p).expect("validated by the tag map");
            ctx.permissive = Some(self.drivers.read(i).await.map_err(|e| e.to_string()));
        }
        for input in &spec.inputs {
            let i = map.find(input).expect("validated by the tag map");
            let stale = match &self.fresh {
                Some(f) => {
                    let last = f.lock().map(|v| v[i]).unwrap_or(None);
                    last.is_none_or(|t| t.elapsed() > map.tags[i].stale_after)
                }
                None => self.drivers.read(i).await.is_err(),
            };
            if stale {
                ctx.stale_input = Some(input.clone());
                break;
            }
        }
        ctx
    }

    /// Handles one setpoint request from `requester` and returns its audit record, which is on
    /// disk when this returns. `Err` when the audit log cannot be written: the caller must then
    /// treat the request as failed and stop (the plant may or may not have been written).
    pub async fn request(&mut self, requester: &str, tag_name: &str, value: f64) -> io::Result<AuditRecord> {
        let map = self.drivers.map().clone();
        let mut rec = AuditRecord {
            time: rfc3339(SystemTime::now()),
            requester: requester.to_string(),
            tag: tag_name.to_string(),
            requested: value,
            outcome: Outcome::Rejected,
            reason: None,
            written: None,
            readback: None,
            device_error: None,
        };
        let Some(ti) = map.find(tag_name) else {
            let mut why = Refusal::UnknownTag(tag_name.into()).to_string();
            if let Some(n) = map.nearest(tag_name) {
                why.push_str(&format!("; did you mean '{n}'?"));
            }
            rec.reason = Some(why);
            self.audit.append(&rec)?;
            return Ok(rec);
        };
        let tag = &map.tags[ti];
        let checked = match tag.write {
            None => Err(Refusal::NotWritable),
            Some(_) => {
                let ctx = self.context(tag).await;
                self.guard.check(tag, value, self.epoch.elapsed().as_secs_f64(), &ctx)
            }
        };
        let v = match checked {
            Err(r) => {
                rec.reason = Some(r.to_string());
                self.audit.append(&rec)?;
                return Ok(rec);
            }
            Ok(v) => v,
        };
        self.control.insert(ti, (Instant::now(), false));
        self.send(ti, v, rec).await
    }

    /// Writes an already checked value, reads it back, logs the result.
    async fn send(&mut self, ti: usize, v: f64, mut rec: AuditRecord) -> io::Result<AuditRecord> {
        let map = self.drivers.map().clone();
        let tag = &map.tags[ti];
        if self.dry_run {
            rec.outcome = Outcome::DryRun;
            rec.written = None;
            rec.reason = Some(format!("dry run: would write {v}"));
            self.audit.append(&rec)?;
            return Ok(rec);
        }
        match self.drivers.write(ti, v, &DeviceWrite { _sealed: () }).await {
            Err(e) => {
                rec.outcome = Outcome::Failed;
                rec.reason = Some(format!("write failed: {e}"));
                rec.device_error = Some(e);
            }
            Ok(()) => {
                self.guard.sent(tag, v, self.epoch.elapsed().as_secs_f64());
                rec.written = Some(v);
                rec.outcome = Outcome::Written;
                if tag.write.as_ref().is_some_and(|w| w.readback) {
                    match self.drivers.read(ti).await {
                        Ok(rb) => {
                            rec.readback = Some(rb);
                            if (rb - v).abs() > readback_tolerance(tag, v) {
                                rec.outcome = Outcome::Failed;
                                rec.reason = Some(format!("read-back {rb} differs from written {v}"));
                            }
                        }
                        Err(e) => {
                            rec.outcome = Outcome::Failed;
                            rec.reason = Some(format!("read-back failed: {e}"));
                            rec.device_error = Some(e);
                        }
                    }
                }
            }
        }
        self.audit.append(&rec)?;
        Ok(rec)
    }

    /// Acts for every writable tag whose controlling loop has been quiet longer than its
    /// watchdog period: writes the safe value once (audited as requester `watchdog`), or, without
    /// a safe value, stops (nothing more is written until the loop asks again). Call it
    /// periodically; returns the records of the writes it made.
    pub async fn watchdog(&mut self) -> io::Result<Vec<AuditRecord>> {
        let map = self.drivers.map().clone();
        let mut out = Vec::new();
        let due: Vec<usize> = self
            .control
            .iter()
            .filter(|(ti, (last, acted))| {
                let w = map.tags[**ti].write.as_ref();
                !acted && w.and_then(|w| w.watchdog).is_some_and(|d| last.elapsed() > d)
            })
            .map(|(ti, _)| *ti)
            .collect();
        for ti in due {
            if let Some(e) = self.control.get_mut(&ti) {
                e.1 = true;
            }
            let tag = &map.tags[ti];
            let Some(safe) = tag.write.as_ref().and_then(|w| w.safe_value) else {
                continue;
            };
            let rec = AuditRecord {
                time: rfc3339(SystemTime::now()),
                requester: "watchdog".into(),
                tag: tag.name.clone(),
                requested: safe,
                outcome: Outcome::Rejected,
                reason: None,
                written: None,
                readback: None,
                device_error: None,
            };
            // The safe value is inside [min, max] (checked when the map was loaded); the rate
            // limit does not apply to the return to safety.
            out.push(self.send(ti, safe, rec).await?);
        }
        Ok(out)
    }
}

/// How far a read-back may differ from the written value: integer registers round to the
/// scale's step; floats (f32 on Modbus, any OPC UA type) to a relative 1e-5.
fn readback_tolerance(tag: &Tag, v: f64) -> f64 {
    let rel = 1e-5 * v.abs().max(1.0);
    match tag.address {
        Address::Modbus { data_type, .. } if data_type != DataType::F32 => rel + tag.scale.abs() * 0.5,
        _ => rel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40.123Z");
        let leap = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
