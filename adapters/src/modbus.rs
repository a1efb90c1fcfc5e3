//! Modbus TCP on tokio-modbus: a polling client driver and a register-bank server (for the
//! virtual plant).
//!
//! The client polls its tags in **poll groups**: tags of one unit, register kind and interval,
//! read as contiguous ranges (at most 120 registers or 2000 bits per request). Every request has
//! the connection's timeout; after a timeout or an I/O error the connection is **dropped and
//! re-opened** (with exponential backoff), because a late reply to a timed-out request would
//! otherwise be taken as the reply to the next one and every later value would be out of step.
//! A device exception (illegal address, device busy, ...) is reported as a bad-quality value for
//! the tags it concerns; polling goes on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::*;

use crate::io::{Backoff, DeviceError, Observation, Quality, Report, Request, wait_refusing};
use crate::tagmap::{Address, DataType, ModbusConn, RegisterKind, TagMap, WordOrder};

/// Decodes a value from its registers (`words.len() == data_type.words()`), as a raw number.
pub fn decode(words: &[u16], dt: DataType, wo: WordOrder) -> f64 {
    let pair = || match wo {
        WordOrder::BigEndian => ((words[0] as u32) << 16) | words[1] as u32,
        WordOrder::LittleEndian => ((words[1] as u32) << 16) | words[0] as u32,
    };
    match dt {
        DataType::Bool => (words[0] != 0) as u8 as f64,
        DataType::U16 => words[0] as f64,
        DataType::I16 => words[0] as i16 as f64,
        DataType::U32 => pair() as f64,
        DataType::I32 => pair() as i32 as f64,
        DataType::F32 => f32::from_bits(pair()) as f64,
    }
}

/// Encodes a raw number into registers; integers are rounded and must fit the type.
pub fn encode(raw: f64, dt: DataType, wo: WordOrder) -> Result<Vec<u16>, String> {
    let check = |lo: f64, hi: f64| -> Result<f64, String> {
        let r = raw.round();
        if raw.is_finite() && (lo..=hi).contains(&r) {
            Ok(r)
        } else {
            Err(format!("{raw} does not fit {dt:?}"))
        }
    };
    let split = |x: u32| match wo {
        WordOrder::BigEndian => vec![(x >> 16) as u16, x as u16],
        WordOrder::LittleEndian => vec![x as u16, (x >> 16) as u16],
    };
    Ok(match dt {
        DataType::Bool => vec![(raw != 0.0) as u16],
        DataType::U16 => vec![check(0.0, 65535.0)? as u16],
        DataType::I16 => vec![check(-32768.0, 32767.0)? as i16 as u16],
        DataType::U32 => split(check(0.0, u32::MAX as f64)? as u32),
        DataType::I32 => split(check(i32::MIN as f64, i32::MAX as f64)? as i32 as u32),
        DataType::F32 => {
            if !raw.is_finite() {
                return Err(format!("{raw} is not finite"));
            }
            split((raw as f32).to_bits())
        }
    })
}

/// One request's worth of a poll group.
#[derive(Debug)]
struct Range {
    unit: u8,
    kind: RegisterKind,
    start: u16,
    count: u16,
    /// (tag, offset from start).
    tags: Vec<(usize, u16)>,
}

/// The ranges polled at one interval, and when they are due next.
#[derive(Debug)]
struct PollGroup {
    interval: Duration,
    due: Instant,
    ranges: Vec<Range>,
}

fn poll_groups(map: &TagMap, conn: usize) -> Vec<PollGroup> {
    // (interval ms, unit, register kind) → (tag, address, words).
    type Key = (u128, u8, u8);
    let mut by_key: BTreeMap<Key, Vec<(usize, u16, u16)>> = BTreeMap::new();
    for (i, t) in map.tags.iter().enumerate() {
        if t.connection != conn {
            continue;
        }
        if let Address::Modbus {
            unit,
            kind,
            address,
            data_type,
            ..
        } = t.address
        {
            by_key
                .entry((t.interval.as_millis(), unit, kind as u8))
                .or_default()
                .push((i, address, data_type.words()));
        }
    }
    let mut groups: BTreeMap<u128, PollGroup> = BTreeMap::new();
    let now = Instant::now();
    for ((ms, unit, _), mut tags) in by_key {
        let kind = match &map.tags[tags[0].0].address {
            Address::Modbus { kind, .. } => *kind,
            _ => unreachable!("only Modbus tags are grouped"),
        };
        let limit: u32 = if matches!(kind, RegisterKind::Coil | RegisterKind::Discrete) {
            2000
        } else {
            120
        };
        tags.sort_by_key(|&(_, a, _)| a);
        let g = groups.entry(ms).or_insert_with(|| PollGroup {
            interval: Duration::from_millis(ms as u64),
            due: now,
            ranges: Vec::new(),
        });
        let mut cur: Option<Range> = None;
        for (tag, addr, words) in tags {
            let end = addr as u32 + words as u32;
            if let Some(r) = cur.as_mut()
                && end - r.start as u32 <= limit
            {
                r.count = r.count.max((end - r.start as u32) as u16);
                r.tags.push((tag, addr - r.start));
                continue;
            }
            if let Some(r) = cur.take() {
                g.ranges.push(r);
            }
            cur = Some(Range {
                unit,
                kind,
                start: addr,
                count: words,
                tags: vec![(tag, 0)],
            });
        }
        g.ranges.extend(cur);
    }
    groups.into_values().collect()
}

/// Why a transaction failed.
enum TxError {
    /// The device answered with an exception: the connection is fine.
    Exception(String),
    /// Timeout or I/O error: the connection must be dropped.
    Link(String),
}

async fn transact<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = tokio_modbus::Result<T>>,
) -> Result<T, TxError> {
    match tokio::time::timeout(timeout, f).await {
        Err(_) => Err(TxError::Link(format!("no reply within {timeout:?}"))),
        Ok(Err(e)) => Err(TxError::Link(e.to_string())),
        Ok(Ok(Err(exc))) => Err(TxError::Exception(format!("device exception: {exc}"))),
        Ok(Ok(Ok(v))) => Ok(v),
    }
}

async fn read_range(ctx: &mut Context, r: &Range, timeout: Duration) -> Result<Vec<u16>, TxError> {
    ctx.set_slave(Slave(r.unit));
    match r.kind {
        RegisterKind::Holding => transact(timeout, ctx.read_holding_registers(r.start, r.count)).await,
        RegisterKind::Input => transact(timeout, ctx.read_input_registers(r.start, r.count)).await,
        RegisterKind::Coil => transact(timeout, ctx.read_coils(r.start, r.count))
            .await
            .map(|b| b.into_iter().map(u16::from).collect()),
        RegisterKind::Discrete => transact(timeout, ctx.read_discrete_inputs(r.start, r.count))
            .await
            .map(|b| b.into_iter().map(u16::from).collect()),
    }
}

fn tag_range(map: &TagMap, tag: usize) -> Option<(Range, DataType, WordOrder)> {
    match map.tags[tag].address {
        Address::Modbus {
            unit,
            kind,
            address,
            data_type,
            word_order,
        } => Some((
            Range {
                unit,
                kind,
                start: address,
                count: data_type.words(),
                tags: vec![(tag, 0)],
            },
            data_type,
            word_order,
        )),
        _ => None,
    }
}

async fn serve_request(ctx: &mut Context, map: &TagMap, req: Request, timeout: Duration) -> Option<TxError> {
    match req {
        Request::Publish { .. } => None,
        Request::Read { tag, reply } => {
            let Some((r, dt, wo)) = tag_range(map, tag) else {
                let _ = reply.send(Err(DeviceError::Unsupported("not a Modbus tag".into())));
                return None;
            };
            match read_range(ctx, &r, timeout).await {
                Ok(w) => {
                    let _ = reply.send(Ok(map.tags[tag].to_eng(decode(&w, dt, wo))));
                    None
                }
                Err(TxError::Exception(e)) => {
                    let _ = reply.send(Err(DeviceError::Refused(e)));
                    None
                }
                Err(TxError::Link(e)) => {
                    let _ = reply.send(Err(DeviceError::Link(e.clone())));
                    Some(TxError::Link(e))
                }
            }
        }
        Request::Write { tag, value, reply } => {
            let Some((r, dt, wo)) = tag_range(map, tag) else {
                let _ = reply.send(Err(DeviceError::Unsupported("not a Modbus tag".into())));
                return None;
            };
            let words = match encode(map.tags[tag].to_raw(value), dt, wo) {
                Ok(w) => w,
                Err(e) => {
                    let _ = reply.send(Err(DeviceError::Unsupported(e)));
                    return None;
                }
            };
            ctx.set_slave(Slave(r.unit));
            let res = match r.kind {
                RegisterKind::Holding if words.len() == 1 => {
                    transact(timeout, ctx.write_single_register(r.start, words[0])).await
                }
                RegisterKind::Holding => transact(timeout, ctx.write_multiple_registers(r.start, &words)).await,
                RegisterKind::Coil => transact(timeout, ctx.write_single_coil(r.start, words[0] != 0)).await,
                RegisterKind::Input | RegisterKind::Discrete => {
                    let why = "input registers and discrete inputs are read-only";
                    let _ = reply.send(Err(DeviceError::Unsupported(why.into())));
                    return None;
                }
            };
            match res {
                Ok(()) => {
                    let _ = reply.send(Ok(()));
                    None
                }
                Err(TxError::Exception(e)) => {
                    let _ = reply.send(Err(DeviceError::Refused(e)));
                    None
                }
                Err(TxError::Link(e)) => {
                    let _ = reply.send(Err(DeviceError::Link(e.clone())));
                    Some(TxError::Link(e))
                }
            }
        }
    }
}

async fn resolve(addr: &str, timeout: Duration) -> Result<SocketAddr, String> {
    let mut it = tokio::time::timeout(timeout, tokio::net::lookup_host(addr))
        .await
        .map_err(|_| format!("resolving {addr}: timeout"))?
        .map_err(|e| format!("resolving {addr}: {e}"))?;
    it.next().ok_or_else(|| format!("resolving {addr}: no address"))
}

/// The client driver of one Modbus connection: polls its groups and serves requests until the
/// request channel closes.
pub async fn run_client(
    map: Arc<TagMap>,
    ci: usize,
    conn: ModbusConn,
    tx: mpsc::Sender<Report>,
    mut rx: mpsc::Receiver<Request>,
) {
    let mut groups = poll_groups(&map, ci);
    let mut backoff = Backoff::new(Duration::from_secs(5));
    let mut ctx: Option<Context> = None;
    let link = |up: bool, message: String| Report::Link {
        connection: ci,
        up,
        message: format!("modbus '{}' ({}): {message}", conn.name, conn.address),
    };
    loop {
        let Some(c) = ctx.as_mut() else {
            let attempt = async {
                let addr = resolve(&conn.address, conn.timeout).await?;
                match tokio::time::timeout(conn.timeout, tcp::connect(addr)).await {
                    Ok(Ok(c)) => Ok(c),
                    Ok(Err(e)) => Err(format!("connect: {e}")),
                    Err(_) => Err(format!("connect: no answer within {:?}", conn.timeout)),
                }
            };
            match attempt.await {
                Ok(c) => {
                    ctx = Some(c);
                    backoff.reset();
                    let _ = tx.send(link(true, "connected".into())).await;
                }
                Err(e) => {
                    let _ = tx.send(link(false, e)).await;
                    if !wait_refusing(&mut rx, backoff.next_delay()).await {
                        return;
                    }
                }
            }
            continue;
        };
        let next_due = groups.iter().map(|g| g.due).min();
        let sleep = tokio::time::sleep_until(next_due.map_or_else(
            || tokio::time::Instant::now() + Duration::from_secs(3600),
            tokio::time::Instant::from_std,
        ));
        let mut failure: Option<String> = None;
        tokio::select! {
            _ = sleep => {
                let now = Instant::now();
                'groups: for g in groups.iter_mut().filter(|g| g.due <= now) {
                    // Next due time on the grid, skipping missed slots instead of bursting.
                    while g.due <= now {
                        g.due += g.interval;
                    }
                    for r in &g.ranges {
                        match read_range(c, r, conn.timeout).await {
                            Ok(words) => {
                                let received = Instant::now();
                                for &(tag, off) in &r.tags {
                                    let t = &map.tags[tag];
                                    let Address::Modbus { data_type, word_order, .. } = t.address else { continue };
                                    let w = &words[off as usize..off as usize + data_type.words() as usize];
                                    let obs = Observation {
                                        tag,
                                        value: t.to_eng(decode(w, data_type, word_order)),
                                        quality: Quality::Good,
                                        source_time: None,
                                        received,
                                    };
                                    if tx.send(Report::Value(obs)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(TxError::Exception(e)) => {
                                let received = Instant::now();
                                for &(tag, _) in &r.tags {
                                    let obs = Observation { tag, value: f64::NAN, quality: Quality::Bad(e.clone()), source_time: None, received };
                                    if tx.send(Report::Value(obs)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(TxError::Link(e)) => {
                                failure = Some(e);
                                break 'groups;
                            }
                        }
                    }
                }
            }
            req = rx.recv() => match req {
                None => return,
                Some(req) => {
                    if let Some(TxError::Link(e)) = serve_request(c, &map, req, conn.timeout).await {
                        failure = Some(e);
                    }
                }
            },
        }
        if let Some(e) = failure {
            // Drop the connection: a late reply must never be read as the next one's.
            ctx = None;
            let _ = tx.send(link(false, format!("{e}; reconnecting"))).await;
        }
    }
}

/// The registers of a simulated device: all four tables, 0-based, shared with the simulation.
#[derive(Debug, Clone)]
pub struct RegisterBank {
    /// Holding registers.
    pub holding: Vec<u16>,
    /// Input registers.
    pub input: Vec<u16>,
    /// Coils.
    pub coils: Vec<bool>,
    /// Discrete inputs.
    pub discrete: Vec<bool>,
}

impl RegisterBank {
    /// A bank of `n` entries in each table, all zero.
    pub fn new(n: usize) -> RegisterBank {
        RegisterBank {
            holding: vec![0; n],
            input: vec![0; n],
            coils: vec![false; n],
            discrete: vec![false; n],
        }
    }
}

/// A write a client made to the bank (the simulation applies it).
#[derive(Debug, Clone, PartialEq)]
pub struct BankWrite {
    /// Table written.
    pub kind: RegisterKind,
    /// First address.
    pub address: u16,
    /// Words written (coils as 0/1).
    pub words: Vec<u16>,
}

#[derive(Clone)]
struct BankService {
    bank: Arc<Mutex<RegisterBank>>,
    writes: mpsc::UnboundedSender<BankWrite>,
}

fn slice<T: Clone>(v: &[T], start: u16, n: u16) -> Result<Vec<T>, ExceptionCode> {
    let (a, b) = (start as usize, start as usize + n as usize);
    if n == 0 || b > v.len() {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    Ok(v[a..b].to_vec())
}

impl tokio_modbus::server::Service for BankService {
    type Request = tokio_modbus::SlaveRequest<'static>;
    type Response = tokio_modbus::Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        std::future::ready(self.handle(req.request))
    }
}

impl BankService {
    fn handle(&self, req: tokio_modbus::Request<'static>) -> Result<tokio_modbus::Response, ExceptionCode> {
        use tokio_modbus::{Request as Q, Response as R};
        let mut b = self.bank.lock().map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        let written = |kind, address, words: Vec<u16>| {
            let _ = self.writes.send(BankWrite { kind, address, words });
        };
        Ok(match req {
            Q::ReadHoldingRegisters(a, n) => R::ReadHoldingRegisters(slice(&b.holding, a, n)?),
            Q::ReadInputRegisters(a, n) => R::ReadInputRegisters(slice(&b.input, a, n)?),
            Q::ReadCoils(a, n) => R::ReadCoils(slice(&b.coils, a, n)?),
            Q::ReadDiscreteInputs(a, n) => R::ReadDiscreteInputs(slice(&b.discrete, a, n)?),
            Q::WriteSingleRegister(a, w) => {
                *b.holding.get_mut(a as usize).ok_or(ExceptionCode::IllegalDataAddress)? = w;
                written(RegisterKind::Holding, a, vec![w]);
                R::WriteSingleRegister(a, w)
            }
            Q::WriteMultipleRegisters(a, ws) => {
                slice(&b.holding, a, ws.len() as u16)?;
                b.holding[a as usize..a as usize + ws.len()].copy_from_slice(&ws);
                written(RegisterKind::Holding, a, ws.to_vec());
                R::WriteMultipleRegisters(a, ws.len() as u16)
            }
            Q::WriteSingleCoil(a, c) => {
                *b.coils.get_mut(a as usize).ok_or(ExceptionCode::IllegalDataAddress)? = c;
                written(RegisterKind::Coil, a, vec![c as u16]);
                R::WriteSingleCoil(a, c)
            }
            _ => return Err(ExceptionCode::IllegalFunction),
        })
    }
}

/// Serves `bank` as a Modbus TCP device on `listener` (any unit id) until the task is dropped.
/// Client writes are applied to the bank and also sent on `writes`.
pub async fn serve_bank(
    listener: tokio::net::TcpListener,
    bank: Arc<Mutex<RegisterBank>>,
    writes: mpsc::UnboundedSender<BankWrite>,
) -> std::io::Result<()> {
    let server = tokio_modbus::server::tcp::Server::new(listener);
    let svc = BankService { bank, writes };
    let on_connected = |stream, addr| {
        let svc = svc.clone();
        async move { tokio_modbus::server::tcp::accept_tcp_connection(stream, addr, move |_| Ok(Some(svc.clone()))) }
    };
    server
        .serve(&on_connected, |e| {
            tracing::debug!("modbus server connection error: {e}")
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_groups_split_by_interval_unit_kind_and_request_size() {
        let mut text = String::from("[[modbus]]\nname = \"plc\"\naddress = \"127.0.0.1:502\"\n");
        let tags = [
            ("a", 1, "holding", 0, "u16", "100ms"),
            ("b", 1, "holding", 1, "f32", "100ms"),
            ("c", 1, "holding", 200, "u16", "100ms"), // beyond 120 registers: a second request
            ("d", 2, "holding", 0, "u16", "100ms"),   // another unit
            ("e", 1, "input", 0, "u16", "100ms"),     // another table
            ("f", 1, "holding", 5, "u16", "1s"),      // another interval
        ];
        for (n, unit, reg, addr, ty, iv) in tags {
            text.push_str(&format!(
                "[[tag]]\nname = \"{n}\"\nsource = \"plc\"\nunit = {unit}\nregister = \"{reg}\"\naddress = {addr}\ntype = \"{ty}\"\nfield = \"power\"\ninterval = \"{iv}\"\n"
            ));
        }
        let map = crate::tagmap::parse_tag_map(&text, std::path::Path::new("t.toml"), None).unwrap();
        let groups = poll_groups(&map, 0);
        assert_eq!(groups.len(), 2, "one group per interval");
        type Summary = (u8, RegisterKind, u16, u16, Vec<(usize, u16)>);
        let fast: Vec<Summary> = groups[0]
            .ranges
            .iter()
            .map(|r| (r.unit, r.kind, r.start, r.count, r.tags.clone()))
            .collect();
        assert_eq!(
            fast,
            vec![
                (1, RegisterKind::Holding, 0, 3, vec![(0, 0), (1, 1)]),
                (1, RegisterKind::Holding, 200, 1, vec![(2, 0)]),
                (1, RegisterKind::Input, 0, 1, vec![(4, 0)]),
                (2, RegisterKind::Holding, 0, 1, vec![(3, 0)]),
            ]
        );
        assert_eq!(groups[1].interval, Duration::from_secs(1));
        assert_eq!(groups[1].ranges.len(), 1);
    }

    #[test]
    fn codec_round_trips_every_type_and_word_order() {
        for wo in [WordOrder::BigEndian, WordOrder::LittleEndian] {
            for (dt, v) in [
                (DataType::U16, 65535.0),
                (DataType::I16, -1234.0),
                (DataType::U32, 4_000_000_000.0),
                (DataType::I32, -2_000_000_000.0),
                (DataType::F32, 1.25),
                (DataType::Bool, 1.0),
            ] {
                let w = encode(v, dt, wo).unwrap();
                assert_eq!(w.len(), dt.words() as usize);
                assert_eq!(decode(&w, dt, wo), v, "{dt:?} {wo:?}");
            }
        }
        // ABCD vs CDAB: 1.25f32 = 0x3FA00000.
        assert_eq!(
            encode(1.25, DataType::F32, WordOrder::BigEndian).unwrap(),
            [0x3FA0, 0x0000]
        );
        assert_eq!(
            encode(1.25, DataType::F32, WordOrder::LittleEndian).unwrap(),
            [0x0000, 0x3FA0]
        );
        assert!(encode(70000.0, DataType::U16, WordOrder::BigEndian).is_err());
        assert!(encode(f64::NAN, DataType::F32, WordOrder::BigEndian).is_err());
    }
}
