//! # twinworks-adapters: the twin connected to the plant, both ways
//!
//! - [`tagmap`]: the tag-map file (where each value comes from, which twin field it feeds, how a
//!   writable tag is guarded), with located errors;
//! - [`io`]: what every protocol driver shares (observations in, read/write requests out);
//! - protocol drivers, one cargo feature each: [`opcua`] (async-opcua), [`modbus`]
//!   (tokio-modbus), [`mqtt`] (rumqttc);
//! - [`guard`] and [`writeback`]: the checks every setpoint passes, the audit log, dry-run,
//!   read-back and the watchdog;
//! - [`live`]: the live mirror (observations drive the twin; divergence counted; stale marking);
//! - [`dispatch_list`]: dispatch lists for the shop floor, from a look-ahead fork of the mirror,
//!   whenever the plant changes (MQTT retained, or a JSON file; audited);
//! - [`virtual_plant`]: a simulated plant served over OPC UA and Modbus in real time.
//!
//! ## Invariants
//! Every network operation has a timeout. A driver owns its connection and serves one request at
//! a time, so transactions never interleave. Nothing reaches the plant except through
//! [`writeback::WriteBack`], and every request it sees is in the audit log before it answers.
//! The viewer does not depend on this crate: it reads [`twinworks_twins::snapshot`]s.

pub mod dispatch_list;
pub mod guard;
pub mod io;
pub mod live;
#[cfg(feature = "modbus")]
pub mod modbus;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "opcua")]
pub mod opcua;
pub mod tagmap;
#[cfg(all(feature = "opcua", feature = "modbus"))]
pub mod virtual_plant;
pub mod writeback;
