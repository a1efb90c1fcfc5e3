//! The virtual plant: a simulated plant run in real time (× a time scale) and served over OPC UA
//! and Modbus TCP, so that `twin live` can mirror it and writes change the simulation. It is the
//! README's demo and the end-to-end test's peer.
//!
//! OPC UA address space (namespace `urn:twinworks:virtual-plant:stations`, not the application
//! URI, which the server's own diagnostics namespace uses), one folder per station under
//! Objects, node ids `ns=N;s=<Station>.<Variable>`:
//!
//! | Variable | Type | Access | Meaning |
//! |---|---|---|---|
//! | `State` | Int32 | read | 0 idle, 1 busy, 2 setup, 3 blocked, 4 down, 5 off shift |
//! | `PartsDone` | UInt32 | read | operations completed |
//! | `Speed` | Double | read/write | speed factor (1 = nominal); a write changes the simulation |
//! | `Temperature` | Double | read | °C, first-order model: 25 idle → 25 + 45 × speed when busy, τ = 300 s |
//! | `RemoteEnabled` | Boolean | read/write | permissive for remote setpoints |
//! | `Hold` | Boolean | read/write | true holds the station down (a breakdown at the plant, for tests and demos) until set false |
//!
//! Modbus map, station `i` (0-based, plant-file order), unit 1 (any unit id answers):
//! input registers `10i` State (u16), `10i+1` PartsDone (u32, big-endian words),
//! `10i+3` Temperature (f32, big-endian words); holding registers `10i` Speed (f32, big-endian,
//! writable); coil `i` RemoteEnabled (writable); coil `n + i` Hold (writable; `n` stations).
//!
//! `--extra-tags N` adds N Double variables `Bench.<k>` that change at `--extra-rate` Hz (for
//! the ingest benchmark). The tag map written by `--write-tags` matches all of this.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opcua::crypto::SecurityPolicy;
use opcua::server::address_space::{NodeType, VariableBuilder};
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use opcua::server::{ANONYMOUS_USER_TOKEN_ID, ServerBuilder, ServerUserToken};
use opcua::types::{
    DataEncoding, DataTypeId, DataValue, MessageSecurityMode, NodeId, NumericRange, TimestampsToReturn, Variant,
};
use tokio::sync::mpsc;
use twinworks_engine::SimTime;
use twinworks_twins::PlantModel;
use twinworks_twins::sim::StationState;
use twinworks_twins::sim::{Command, Compiled, build_twin};
use twinworks_twins::snapshot::take;

use crate::modbus::{BankWrite, RegisterBank, decode, encode, serve_bank};
use crate::opcua::variant_f64;
use crate::tagmap::{DataType, RegisterKind, WordOrder};

/// Namespace URI of the virtual plant's nodes.
pub const NAMESPACE: &str = "urn:twinworks:virtual-plant:stations";

/// Options of `twin serve-plant`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// OPC UA listen address (`None` = no OPC UA server).
    pub opcua: Option<SocketAddr>,
    /// Modbus TCP listen address.
    pub modbus: Option<SocketAddr>,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Random seed of the simulation.
    pub seed: u64,
    /// How often values are published.
    pub update: Duration,
    /// User name and password accepted besides anonymous access.
    pub user: Option<(String, String)>,
    /// Refuse anonymous access (then `user` is required).
    pub no_anonymous: bool,
    /// The server's certificate store.
    pub pki_dir: PathBuf,
    /// Write the matching tag map here.
    pub write_tags: Option<PathBuf>,
    /// Extra changing variables for benchmarks.
    pub extra_tags: usize,
    /// Their change rate [Hz].
    pub extra_rate: f64,
    /// Stop after this long (real time).
    pub duration: Option<Duration>,
}

/// The state code published for a station state.
pub fn state_code(s: StationState) -> i32 {
    match s {
        StationState::Idle => 0,
        StationState::Busy => 1,
        StationState::Setup => 2,
        StationState::Blocked => 3,
        StationState::Down => 4,
        StationState::OffShift => 5,
    }
}

/// The tag map (TOML) that matches the served address space and register map.
pub fn tag_map_text(
    plant: &PlantModel,
    opts: &ServeOptions,
    ns: u16,
    opcua: Option<SocketAddr>,
    modbus: Option<SocketAddr>,
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Tag map of the virtual plant '{}' (written by `twin serve-plant`).",
        plant.name
    );
    if let Some(a) = opcua {
        let _ = writeln!(
            t,
            "\n[[opcua]]\nname = \"plant-opcua\"\nendpoint = \"opc.tcp://{a}/\"\npublishing_interval = \"50ms\""
        );
        if let Some((u, p)) = &opts.user {
            let _ = writeln!(t, "user = {u:?}\npassword = {p:?}");
        }
    }
    if let Some(a) = modbus {
        let _ = writeln!(t, "\n[[modbus]]\nname = \"plant-modbus\"\naddress = \"{a}\"");
    }
    // Per station: (variable, twin field, Modbus register kind, offset, type, writable).
    const VARS: [(&str, &str, &str, usize, &str); 6] = [
        ("State", "state", "input", 0, "u16"),
        ("PartsDone", "parts_done", "input", 1, "u32"),
        ("Temperature", "temperature", "input", 3, "f32"),
        ("RemoteEnabled", "permissive", "coil", 0, "bool"),
        ("Speed", "speed", "holding", 0, "f32"),
        ("Hold", "hold", "coil", 0, "bool"),
    ];
    for (i, s) in plant.stations.iter().enumerate() {
        let n = &s.name;
        for (var, field, register, offset, ty) in VARS {
            let _ = write!(t, "\n[[tag]]\nname = \"{n}.{var}\"\n");
            if opcua.is_some() {
                let _ = writeln!(t, "source = \"plant-opcua\"\nnode = \"ns={ns};s={n}.{var}\"");
            } else {
                // Coils are numbered by station, registers in blocks of 10 per station.
                let n_st = plant.stations.len();
                let address = match (register, var) {
                    ("coil", "Hold") => n_st + i,
                    ("coil", _) => i,
                    _ => i * 10 + offset,
                };
                let _ = writeln!(
                    t,
                    "source = \"plant-modbus\"\nregister = \"{register}\"\naddress = {address}\ntype = \"{ty}\"\ninterval = \"200ms\""
                );
            }
            let _ = writeln!(t, "station = \"{n}\"\nfield = \"{field}\"");
            if var == "Speed" {
                let _ = writeln!(
                    t,
                    "write = {{ min = 0.5, max = 1.5, max_rate = 0.5, permissive = \"{n}.RemoteEnabled\", safe_value = 1.0, watchdog = \"30s\" }}"
                );
            }
            if var == "Hold" {
                let _ = writeln!(t, "write = {{ min = 0, max = 1, permissive = \"{n}.RemoteEnabled\" }}");
            }
        }
    }
    if opcua.is_some() {
        for k in 0..opts.extra_tags {
            let _ = writeln!(
                t,
                "\n[[tag]]\nname = \"Bench.{k}\"\nsource = \"plant-opcua\"\nnode = \"ns={ns};s=Bench.{k}\"\nfield = \"power\"\ninterval = \"50ms\""
            );
        }
    }
    t
}

struct StationNodes {
    state: NodeId,
    parts: NodeId,
    speed: NodeId,
    temp: NodeId,
    remote: NodeId,
    hold: NodeId,
}

/// Runs the virtual plant until `opts.duration` or `stop`. `ready` receives the bound addresses
/// (OPC UA, Modbus) once both listen.
pub async fn serve_plant(
    plant: &PlantModel,
    opts: &ServeOptions,
    ready: impl FnOnce(Option<SocketAddr>, Option<SocketAddr>),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let cfg = Arc::new(Compiled::new(plant.clone()));
    let mut twin = build_twin(cfg, opts.seed);
    let n = plant.stations.len();

    // --- OPC UA server ---
    let mut opc = None;
    let mut opc_addr = None;
    let mut ns = 2u16;
    if let Some(addr) = opts.opcua {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("OPC UA: cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let mut users: Vec<&str> = Vec::new();
        if !opts.no_anonymous {
            users.push(ANONYMOUS_USER_TOKEN_ID);
        }
        let mut b = ServerBuilder::new()
            .application_name("Twinworks virtual plant")
            .application_uri("urn:twinworks:virtual-plant")
            .product_uri("urn:twinworks")
            .pki_dir(opts.pki_dir.clone())
            .create_sample_keypair(true)
            .trust_client_certs(true)
            .host(bound.ip().to_string())
            .port(bound.port())
            .discovery_urls(vec!["/".to_owned()])
            .with_node_manager(simple_node_manager(
                NamespaceMetadata {
                    namespace_uri: NAMESPACE.to_owned(),
                    ..Default::default()
                },
                "plant",
            ));
        // Room for the benchmark's 10,000+ tags: any number of items per subscription, and
        // enough subscriptions per session for clients that split them.
        b.limits_mut().subscriptions.max_monitored_items_per_sub = 0;
        b.limits_mut().subscriptions.max_subscriptions_per_session = 100;
        b.limits_mut().subscriptions.max_pending_publish_requests = 200;
        // Publish and sample every 20 ms (default 100 ms), so a tag changing at 10 Hz is never
        // coalesced with its next change.
        b.limits_mut().subscriptions.min_publishing_interval_ms = 20.0;
        b.limits_mut().subscriptions.min_sampling_interval_ms = 20.0;
        b = b.subscription_poll_interval_ms(20);
        if let Some((u, p)) = &opts.user {
            b = b.add_user_token("operator", ServerUserToken::user_pass(u.clone(), p.clone()));
            users.push("operator");
        }
        let (server, handle) = b
            .add_endpoint(
                "none",
                ("/", SecurityPolicy::None, MessageSecurityMode::None, &users[..]),
            )
            .add_endpoint(
                "basic256sha256",
                (
                    "/",
                    SecurityPolicy::Basic256Sha256,
                    MessageSecurityMode::SignAndEncrypt,
                    &users[..],
                ),
            )
            .build()
            .map_err(|e| format!("OPC UA server: {e}"))?;
        let manager = handle
            .node_managers()
            .get_of_type::<SimpleNodeManager>()
            .ok_or("OPC UA server: no node manager")?;
        ns = handle
            .get_namespace_index(NAMESPACE)
            .ok_or("OPC UA server: namespace missing")?;
        let mut nodes = Vec::new();
        {
            let mut space = manager.address_space().write();
            for s in &plant.stations {
                let folder = NodeId::new(ns, s.name.clone());
                space.add_folder(&folder, s.name.as_str(), s.name.as_str(), &NodeId::objects_folder_id());
                let var = |v: &str| NodeId::new(ns, format!("{}.{v}", s.name));
                let sn = StationNodes {
                    state: var("State"),
                    parts: var("PartsDone"),
                    speed: var("Speed"),
                    temp: var("Temperature"),
                    remote: var("RemoteEnabled"),
                    hold: var("Hold"),
                };
                VariableBuilder::new(&sn.state, "State", "State")
                    .data_type(DataTypeId::Int32)
                    .value(0i32)
                    .organized_by(&folder)
                    .insert(&mut *space);
                VariableBuilder::new(&sn.parts, "PartsDone", "PartsDone")
                    .data_type(DataTypeId::UInt32)
                    .value(0u32)
                    .organized_by(&folder)
                    .insert(&mut *space);
                VariableBuilder::new(&sn.speed, "Speed", "Speed")
                    .data_type(DataTypeId::Double)
                    .value(1.0f64)
                    .organized_by(&folder)
                    .writable()
                    .insert(&mut *space);
                VariableBuilder::new(&sn.temp, "Temperature", "Temperature")
                    .data_type(DataTypeId::Double)
                    .value(25.0f64)
                    .organized_by(&folder)
                    .insert(&mut *space);
                VariableBuilder::new(&sn.remote, "RemoteEnabled", "RemoteEnabled")
                    .data_type(DataTypeId::Boolean)
                    .value(true)
                    .organized_by(&folder)
                    .writable()
                    .insert(&mut *space);
                VariableBuilder::new(&sn.hold, "Hold", "Hold")
                    .data_type(DataTypeId::Boolean)
                    .value(false)
                    .organized_by(&folder)
                    .writable()
                    .insert(&mut *space);
                nodes.push(sn);
            }
            if opts.extra_tags > 0 {
                let folder = NodeId::new(ns, "Bench");
                space.add_folder(&folder, "Bench", "Bench", &NodeId::objects_folder_id());
                for k in 0..opts.extra_tags {
                    VariableBuilder::new(
                        &NodeId::new(ns, format!("Bench.{k}")),
                        format!("B{k}").as_str(),
                        format!("B{k}").as_str(),
                    )
                    .data_type(DataTypeId::Double)
                    .value(0.0f64)
                    .organized_by(&folder)
                    .insert(&mut *space);
                }
            }
        }
        let subs = handle.subscriptions().clone();
        tokio::spawn(async move {
            if let Err(e) = server.run_with(listener).await {
                tracing::error!("OPC UA server stopped: {e}");
            }
        });
        opc_addr = Some(bound);
        opc = Some((manager, subs, nodes, handle));
    }

    // --- Modbus server ---
    let bank = Arc::new(Mutex::new(RegisterBank::new((n * 10).max(16))));
    {
        let mut b = bank.lock().unwrap();
        for i in 0..n {
            let w = encode(1.0, DataType::F32, WordOrder::BigEndian).unwrap();
            b.holding[i * 10..i * 10 + 2].copy_from_slice(&w);
            b.coils[i] = true;
        }
    }
    let (wtx, mut wrx) = mpsc::unbounded_channel::<BankWrite>();
    let mut mb_addr = None;
    if let Some(addr) = opts.modbus {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("Modbus: cannot listen on {addr}: {e}"))?;
        mb_addr = Some(listener.local_addr().map_err(|e| e.to_string())?);
        let bank = bank.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_bank(listener, bank, wtx).await {
                tracing::error!("Modbus server stopped: {e}");
            }
        });
    }
    if let Some(path) = &opts.write_tags {
        let text = tag_map_text(plant, opts, ns, opc_addr, mb_addr);
        let tmp = path.with_extension("toml.partial");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    ready(opc_addr, mb_addr);

    // --- the real-time loop ---
    let start = Instant::now();
    let mut temps = vec![25.0f64; n];
    let mut speeds = vec![1.0f64; n];
    let mut holds = vec![false; n];
    let mut last_t = 0.0;
    let mut tick = tokio::time::interval(opts.update);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut bench_tick = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.extra_rate.max(0.001)));
    bench_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut bench_value = 0.0f64;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = bench_tick.tick(), if opts.extra_tags > 0 && opc.is_some() => {
                bench_value += 1.0;
                let (manager, subs, _, _) = opc.as_ref().unwrap();
                let ids: Vec<NodeId> = (0..opts.extra_tags).map(|k| NodeId::new(ns, format!("Bench.{k}"))).collect();
                let _ = manager.set_values(subs, ids.iter().map(|id| (id, None, DataValue::new_now(bench_value))));
                continue;
            }
            _ = tick.tick() => {}
        }
        // Writes from clients: Modbus speed registers and coils, OPC UA Speed nodes.
        while let Ok(w) = wrx.try_recv() {
            if w.kind == RegisterKind::Holding {
                let b = bank.lock().unwrap();
                for (i, speed) in speeds.iter_mut().enumerate() {
                    let base = (i * 10) as u16;
                    if w.address <= base + 1 && w.address + w.words.len() as u16 > base {
                        let v = decode(
                            &b.holding[base as usize..base as usize + 2],
                            DataType::F32,
                            WordOrder::BigEndian,
                        );
                        if v != *speed {
                            *speed = v;
                            twin.model.commands.push(Command::SetSpeed {
                                station: i as u32,
                                speed: v,
                            });
                        }
                    }
                }
            }
        }
        if let Some((manager, _, nodes, _)) = &opc {
            let space = manager.address_space().read();
            for (i, sn) in nodes.iter().enumerate() {
                if let Some(NodeType::Variable(v)) = space.find(&sn.speed) {
                    let dv = v.value(
                        TimestampsToReturn::Neither,
                        &NumericRange::None,
                        &DataEncoding::Binary,
                        0.0,
                    );
                    if let Some(x) = dv.value.as_ref().and_then(variant_f64)
                        && x != speeds[i]
                    {
                        speeds[i] = x;
                        twin.model.commands.push(Command::SetSpeed {
                            station: i as u32,
                            speed: x,
                        });
                    }
                }
            }
        }
        // Holds: the OPC UA node or the Modbus coil, whichever says hold.
        for (i, held) in holds.iter_mut().enumerate() {
            let mut hold = bank.lock().unwrap().coils.get(n + i).copied().unwrap_or(false);
            if let Some((manager, _, nodes, _)) = &opc
                && let Some(NodeType::Variable(v)) = manager.address_space().read().find(&nodes[i].hold)
            {
                let dv = v.value(
                    TimestampsToReturn::Neither,
                    &NumericRange::None,
                    &DataEncoding::Binary,
                    0.0,
                );
                hold |= dv.value.as_ref().and_then(variant_f64).is_some_and(|x| x != 0.0);
            }
            if hold != *held {
                *held = hold;
                twin.model.commands.push(Command::SetDown {
                    station: i as u32,
                    down: hold,
                });
            }
        }
        let t = start.elapsed().as_secs_f64() * opts.time_scale;
        twin.run_until(SimTime::from_secs(t));
        let snap = take(&mut twin);
        let dt = (t - last_t).max(0.0);
        last_t = t;
        for (i, st) in snap.stations.iter().enumerate() {
            let target = if st.state == StationState::Busy {
                25.0 + 45.0 * st.speed
            } else {
                25.0
            };
            temps[i] += (target - temps[i]) * (1.0 - (-dt / 300.0).exp());
        }
        {
            let mut b = bank.lock().unwrap();
            for (i, st) in snap.stations.iter().enumerate() {
                let base = i * 10;
                b.input[base] = state_code(st.state) as u16;
                b.input[base + 1..base + 3]
                    .copy_from_slice(&encode(st.parts_done as f64, DataType::U32, WordOrder::BigEndian).unwrap());
                b.input[base + 3..base + 5]
                    .copy_from_slice(&encode(temps[i], DataType::F32, WordOrder::BigEndian).unwrap());
            }
        }
        if let Some((manager, subs, nodes, _)) = &opc {
            let mut vals: Vec<(&NodeId, Option<&NumericRange>, DataValue)> = Vec::with_capacity(3 * n);
            for (sn, (st, temp)) in nodes.iter().zip(snap.stations.iter().zip(&temps)) {
                vals.push((
                    &sn.state,
                    None,
                    DataValue::new_now(Variant::Int32(state_code(st.state))),
                ));
                vals.push((
                    &sn.parts,
                    None,
                    DataValue::new_now(Variant::UInt32(st.parts_done as u32)),
                ));
                vals.push((
                    &sn.temp,
                    None,
                    DataValue::new_now(Variant::Double((temp * 100.0).round() / 100.0)),
                ));
            }
            let _ = manager.set_values(subs, vals.into_iter());
        }
        if opts.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
    }
    if let Some((_, _, _, handle)) = &opc {
        handle.cancel();
    }
    Ok(())
}
