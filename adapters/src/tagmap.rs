//! The tag map: where each plant value comes from, which twin field it feeds, and how a
//! writable tag is guarded. Format: `docs/tag-map.md`; example: `scenarios/samples/cell_tags.toml`.
//!
//! Every problem is reported with file, line, column and key, with the nearest valid name for
//! unknown connections, stations, fields and keys, and all problems of a file at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use twinworks_engine::parse_duration;
use twinworks_twins::PlantModel;
use twinworks_twins::diagnostic::{LoadError, Reporter, read_text};

/// Twin fields a tag can feed. `state`, `parts_done` and `speed` change the simulation; the
/// others are observed values shown beside the station (and used by optimizers later).
pub const FIELDS: [&str; 7] = [
    "state",
    "parts_done",
    "speed",
    "temperature",
    "power",
    "permissive",
    "hold",
];

/// A connection to the plant.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// An OPC UA server.
    OpcUa(OpcUaConn),
    /// A Modbus TCP device (or gateway).
    Modbus(ModbusConn),
    /// An MQTT broker.
    Mqtt(MqttConn),
}

impl Connection {
    /// The connection's name.
    pub fn name(&self) -> &str {
        match self {
            Connection::OpcUa(c) => &c.name,
            Connection::Modbus(c) => &c.name,
            Connection::Mqtt(c) => &c.name,
        }
    }

    /// Where it connects to (for messages): the OPC UA endpoint, the Modbus `host:port`, the
    /// MQTT broker's `host:port`.
    pub fn endpoint(&self) -> String {
        match self {
            Connection::OpcUa(c) => c.endpoint.clone(),
            Connection::Modbus(c) => c.address.clone(),
            Connection::Mqtt(c) => format!("{}:{}", c.host, c.port),
        }
    }
}

/// OPC UA message security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// No signing, no encryption.
    None,
    /// Basic256Sha256, SignAndEncrypt.
    Basic256Sha256,
}

/// An OPC UA server to subscribe to.
#[derive(Clone, Debug, PartialEq)]
pub struct OpcUaConn {
    /// Name tags refer to.
    pub name: String,
    /// `opc.tcp://host:port[/path]`.
    pub endpoint: String,
    /// Message security.
    pub security: Security,
    /// User name and password (anonymous when absent).
    pub user: Option<(String, String)>,
    /// Where the client keeps its certificate and trusted/rejected server certificates.
    pub pki_dir: PathBuf,
    /// Trust a server certificate not in `pki_dir/trusted` (off by default).
    pub trust_unknown_server: bool,
    /// Connect (and session activation) timeout.
    pub connect_timeout: Duration,
    /// Subscription publishing interval.
    pub publishing_interval: Duration,
}

/// A Modbus TCP device.
#[derive(Clone, Debug, PartialEq)]
pub struct ModbusConn {
    /// Name tags refer to.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Timeout of every request (and of connecting).
    pub timeout: Duration,
}

/// An MQTT broker.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttConn {
    /// Name tags refer to.
    pub name: String,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client id (default: `twin-<name>`).
    pub client_id: String,
    /// User name and password.
    pub user: Option<(String, String)>,
    /// CA certificate file (PEM) for TLS; plain TCP when absent.
    pub tls_ca: Option<PathBuf>,
    /// Topic prefix under which the twin publishes its state and KPIs (none: no publishing).
    pub publish_prefix: Option<String>,
    /// How often the twin publishes.
    pub publish_interval: Duration,
    /// Store-and-forward buffer: messages kept while the broker is unreachable.
    pub buffer: usize,
}

/// Modbus register kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterKind {
    /// Holding registers (read/write).
    Holding,
    /// Input registers (read-only).
    Input,
    /// Coils (read/write bits).
    Coil,
    /// Discrete inputs (read-only bits).
    Discrete,
}

/// How register words encode a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// One bit (coils, discrete inputs).
    Bool,
    /// One register, unsigned.
    U16,
    /// One register, two's complement.
    I16,
    /// Two registers, unsigned.
    U32,
    /// Two registers, two's complement.
    I32,
    /// Two registers, IEEE 754 single.
    F32,
}

impl DataType {
    /// Registers (or bits) it occupies.
    pub fn words(self) -> u16 {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 => 1,
            _ => 2,
        }
    }
}

/// Order of the two words of a 32-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordOrder {
    /// High word first (the Modbus convention, "ABCD").
    BigEndian,
    /// Low word first ("CDAB", common on some PLCs).
    LittleEndian,
}

/// Where a tag's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Address {
    /// An OPC UA node (`ns=2;s=Lathe.Speed`).
    OpcUa {
        /// The node id as written.
        node: String,
    },
    /// A Modbus register or bit.
    Modbus {
        /// Unit (slave) id.
        unit: u8,
        /// Register kind.
        kind: RegisterKind,
        /// 0-based address.
        address: u16,
        /// Encoding.
        data_type: DataType,
        /// Word order of 32-bit types.
        word_order: WordOrder,
    },
    /// A field of the JSON payload on an MQTT topic (dotted path; empty = the whole payload is
    /// a number).
    Mqtt {
        /// Topic to subscribe to.
        topic: String,
        /// Dotted path into the JSON payload.
        field: String,
    },
}

/// Limits and checks for writing a tag.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteSpec {
    /// Smallest value that may be written (engineering units).
    pub min: f64,
    /// Largest value that may be written.
    pub max: f64,
    /// Largest change per second between consecutive writes (engineering units / s).
    pub max_rate: Option<f64>,
    /// Read the tag back after writing and confirm the value.
    pub readback: bool,
    /// A tag that must read non-zero (the PLC allows remote setpoints) for a write to proceed.
    pub permissive: Option<String>,
    /// Tags the setpoint was computed from: a write is refused while any of them is stale.
    pub inputs: Vec<String>,
    /// Value the watchdog writes when communication with the requesting loop is lost.
    pub safe_value: Option<f64>,
    /// The loop must write (or confirm) at least this often, else the watchdog acts.
    pub watchdog: Option<Duration>,
}

/// One tag.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    /// Unique name.
    pub name: String,
    /// Index into [`TagMap::connections`].
    pub connection: usize,
    /// Where the value is.
    pub address: Address,
    /// Station it is bound to (index into the plant's stations), if any.
    pub station: Option<usize>,
    /// The station's name as written.
    pub station_name: Option<String>,
    /// Twin field it feeds (one of [`FIELDS`]).
    pub field: String,
    /// engineering = raw × scale + offset.
    pub scale: f64,
    /// See `scale`.
    pub offset: f64,
    /// Changes smaller than this (engineering units) are not passed on.
    pub deadband: f64,
    /// Sampling (OPC UA) or poll (Modbus) interval.
    pub interval: Duration,
    /// Older than this, the value is stale (default 3 × interval, at least 1 s).
    pub stale_after: Duration,
    /// For `field = "state"`: raw values that mean "down" (default `[4]`, the virtual plant's code).
    pub down_values: Vec<f64>,
    /// Writable tag limits.
    pub write: Option<WriteSpec>,
}

impl Tag {
    /// Raw device value to engineering units.
    pub fn to_eng(&self, raw: f64) -> f64 {
        raw * self.scale + self.offset
    }

    /// Engineering units to the raw device value.
    pub fn to_raw(&self, eng: f64) -> f64 {
        if self.scale == 0.0 {
            eng - self.offset
        } else {
            (eng - self.offset) / self.scale
        }
    }
}

/// A loaded, validated tag map.
#[derive(Clone, Debug, PartialEq)]
pub struct TagMap {
    /// The file it came from.
    pub path: PathBuf,
    /// Connections, in file order.
    pub connections: Vec<Connection>,
    /// Tags, in file order.
    pub tags: Vec<Tag>,
}

impl TagMap {
    /// The index of the tag called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.tags.iter().position(|t| t.name == name)
    }

    /// The nearest tag name to `name` (for "did you mean").
    pub fn nearest(&self, name: &str) -> Option<&str> {
        twinworks_twins::diagnostic::nearest_name(name, self.tags.iter().map(|t| t.name.as_str()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(default)]
    opcua: Vec<RawOpcUa>,
    #[serde(default)]
    modbus: Vec<RawModbus>,
    #[serde(default)]
    mqtt: Vec<RawMqtt>,
    #[serde(default)]
    tag: Vec<RawTag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpcUa {
    name: Spanned<String>,
    endpoint: Spanned<String>,
    security: Option<Spanned<String>>,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<Spanned<String>>,
    pki_dir: Option<String>,
    trust_unknown_server: Option<bool>,
    connect_timeout: Option<Spanned<String>>,
    publishing_interval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModbus {
    name: Spanned<String>,
    address: Spanned<String>,
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMqtt {
    name: Spanned<String>,
    host: Option<String>,
    port: Option<u16>,
    client_id: Option<String>,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<Spanned<String>>,
    tls_ca: Option<String>,
    publish_prefix: Option<String>,
    publish_interval: Option<Spanned<String>>,
    buffer: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTag {
    name: Spanned<String>,
    source: Spanned<String>,
    node: Option<Spanned<String>>,
    unit: Option<Spanned<i64>>,
    register: Option<Spanned<String>>,
    address: Option<Spanned<i64>>,
    #[serde(rename = "type")]
    data_type: Option<Spanned<String>>,
    word_order: Option<Spanned<String>>,
    topic: Option<Spanned<String>>,
    field_path: Option<String>,
    station: Option<Spanned<String>>,
    field: Spanned<String>,
    scale: Option<Spanned<f64>>,
    offset: Option<Spanned<f64>>,
    deadband: Option<Spanned<f64>>,
    interval: Option<Spanned<String>>,
    stale_after: Option<Spanned<String>>,
    down_values: Option<Spanned<Vec<f64>>>,
    write: Option<Spanned<RawWrite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWrite {
    min: f64,
    max: f64,
    max_rate: Option<f64>,
    readback: Option<bool>,
    permissive: Option<Spanned<String>>,
    #[serde(default)]
    inputs: Vec<Spanned<String>>,
    safe_value: Option<f64>,
    watchdog: Option<Spanned<String>>,
}

/// Reads and validates a tag map. With `plant`, station names are checked against it.
pub fn load_tag_map(path: &Path, plant: Option<&PlantModel>) -> Result<TagMap, LoadError> {
    let text = read_text(path)?;
    parse_tag_map(&text, path, plant)
}

/// Parses tag-map text (`path` names it in errors and anchors relative paths).
pub fn parse_tag_map(text: &str, path: &Path, plant: Option<&PlantModel>) -> Result<TagMap, LoadError> {
    let mut r = Reporter::new(path, text);
    let raw: RawMap = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            r.toml_error(&e);
            return Err(r.into_error());
        }
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut connections = Vec::new();
    let dur = |r: &mut Reporter, v: &Option<Spanned<String>>, key: &str, default: Duration| -> Duration {
        match v {
            None => default,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(t) if t.secs() > 0.0 => Duration::from_secs_f64(t.secs()),
                Ok(_) => {
                    r.error(s.span(), format!("{key} must be > 0"));
                    default
                }
                Err(e) => {
                    r.error(s.span(), format!("{key}: {e}"));
                    default
                }
            },
        }
    };
    let password = |r: &mut Reporter, pw: &Option<String>, env: &Option<Spanned<String>>| -> Option<String> {
        match (pw, env) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(var)) => match std::env::var(var.get_ref()) {
                Ok(p) => Some(p),
                Err(_) => {
                    r.error(
                        var.span(),
                        format!("password_env: environment variable '{}' is not set", var.get_ref()),
                    );
                    None
                }
            },
            (None, None) => None,
        }
    };
    let mut declare = |r: &mut Reporter, n: &Spanned<String>, idx: usize| {
        if names.insert(n.get_ref().clone(), idx).is_some() {
            r.error(n.span(), format!("duplicate connection name '{}'", n.get_ref()));
        }
    };
    for c in &raw.opcua {
        declare(&mut r, &c.name, connections.len());
        if !c.endpoint.get_ref().starts_with("opc.tcp://") {
            r.error(c.endpoint.span(), "endpoint must start with 'opc.tcp://'");
        }
        let security = match c.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("none") => Security::None,
            Some("basic256sha256") => Security::Basic256Sha256,
            Some(other) => {
                let s = c.security.as_ref().unwrap();
                r.unknown(s.span(), "security", other, "", ["none", "basic256sha256"]);
                Security::None
            }
        };
        let user = match (&c.user, password(&mut r, &c.password, &c.password_env)) {
            (Some(u), Some(p)) => Some((u.clone(), p)),
            (Some(_), None) => {
                r.error(c.name.span(), "user given without password or password_env");
                None
            }
            _ => None,
        };
        connections.push(Connection::OpcUa(OpcUaConn {
            name: c.name.get_ref().clone(),
            endpoint: c.endpoint.get_ref().clone(),
            security,
            user,
            pki_dir: dir.join(c.pki_dir.as_deref().unwrap_or("pki")),
            trust_unknown_server: c.trust_unknown_server.unwrap_or(false),
            connect_timeout: dur(&mut r, &c.connect_timeout, "connect_timeout", Duration::from_secs(5)),
            publishing_interval: dur(
                &mut r,
                &c.publishing_interval,
                "publishing_interval",
                Duration::from_millis(100),
            ),
        }));
    }
    for c in &raw.modbus {
        declare(&mut r, &c.name, connections.len());
        if !c.address.get_ref().contains(':') {
            r.error(c.address.span(), "address must be host:port");
        }
        connections.push(Connection::Modbus(ModbusConn {
            name: c.name.get_ref().clone(),
            address: c.address.get_ref().clone(),
            timeout: dur(&mut r, &c.timeout, "timeout", Duration::from_secs(1)),
        }));
    }
    for c in &raw.mqtt {
        declare(&mut r, &c.name, connections.len());
        let user = match (&c.user, password(&mut r, &c.password, &c.password_env)) {
            (Some(u), p) => Some((u.clone(), p.unwrap_or_default())),
            _ => None,
        };
        let buffer = match &c.buffer {
            Some(b) if *b.get_ref() < 1 => {
                r.error(b.span(), "buffer must be >= 1");
                1
            }
            Some(b) => *b.get_ref() as usize,
            None => 10_000,
        };
        connections.push(Connection::Mqtt(MqttConn {
            name: c.name.get_ref().clone(),
            host: c.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: c.port.unwrap_or(1883),
            client_id: c
                .client_id
                .clone()
                .unwrap_or_else(|| format!("twin-{}", c.name.get_ref())),
            user,
            tls_ca: c.tls_ca.as_ref().map(|p| dir.join(p)),
            publish_prefix: c.publish_prefix.clone(),
            publish_interval: dur(&mut r, &c.publish_interval, "publish_interval", Duration::from_secs(1)),
            buffer,
        }));
    }
    let conn_names: Vec<String> = connections.iter().map(|c| c.name().to_string()).collect();
    let station_names: Vec<&str> = plant.map_or(Vec::new(), |p| p.stations.iter().map(|s| s.name.as_str()).collect());
    let tag_names: Vec<String> = raw.tag.iter().map(|t| t.name.get_ref().clone()).collect();
    let mut tags = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for t in &raw.tag {
        let name = t.name.get_ref();
        if seen.insert(name.as_str(), ()).is_some() {
            r.error(t.name.span(), format!("duplicate tag name '{name}'"));
        }
        let ctx = format!("in tag '{name}'");
        let Some(&conn) = names.get(t.source.get_ref()) else {
            r.unknown(
                t.source.span(),
                "connection",
                t.source.get_ref(),
                &ctx,
                conn_names.iter().map(|s| s.as_str()),
            );
            continue;
        };
        let address = match &connections[conn] {
            Connection::OpcUa(_) => match &t.node {
                Some(n) => Address::OpcUa {
                    node: n.get_ref().clone(),
                },
                None => {
                    r.error(t.name.span(), format!("tag '{name}': an OPC UA tag needs 'node'"));
                    continue;
                }
            },
            Connection::Modbus(_) => {
                let kind = match t.register.as_ref().map(|s| s.get_ref().as_str()) {
                    Some("holding") => RegisterKind::Holding,
                    Some("input") => RegisterKind::Input,
                    Some("coil") => RegisterKind::Coil,
                    Some("discrete") => RegisterKind::Discrete,
                    Some(other) => {
                        let s = t.register.as_ref().unwrap();
                        r.unknown(
                            s.span(),
                            "register kind",
                            other,
                            &ctx,
                            ["holding", "input", "coil", "discrete"],
                        );
                        continue;
                    }
                    None => {
                        r.error(t.name.span(), format!("tag '{name}': a Modbus tag needs 'register'"));
                        continue;
                    }
                };
                let bit = matches!(kind, RegisterKind::Coil | RegisterKind::Discrete);
                let data_type = match t.data_type.as_ref().map(|s| s.get_ref().as_str()) {
                    None if bit => DataType::Bool,
                    None => DataType::U16,
                    Some("bool") => DataType::Bool,
                    Some("u16") => DataType::U16,
                    Some("i16") => DataType::I16,
                    Some("u32") => DataType::U32,
                    Some("i32") => DataType::I32,
                    Some("f32") => DataType::F32,
                    Some(other) => {
                        let s = t.data_type.as_ref().unwrap();
                        r.unknown(
                            s.span(),
                            "type",
                            other,
                            &ctx,
                            ["bool", "u16", "i16", "u32", "i32", "f32"],
                        );
                        continue;
                    }
                };
                if bit != (data_type == DataType::Bool) {
                    let span = t.data_type.as_ref().map_or(t.name.span(), |s| s.span());
                    r.error(
                        span,
                        format!("tag '{name}': coils and discrete inputs are 'bool', registers are not"),
                    );
                }
                let word_order = match t.word_order.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("big") => WordOrder::BigEndian,
                    Some("little") => WordOrder::LittleEndian,
                    Some(other) => {
                        let s = t.word_order.as_ref().unwrap();
                        r.unknown(s.span(), "word order", other, &ctx, ["big", "little"]);
                        WordOrder::BigEndian
                    }
                };
                let unit = int_in(&mut r, &t.unit, "unit", 0, 255, 1) as u8;
                let Some(a) = &t.address else {
                    r.error(t.name.span(), format!("tag '{name}': a Modbus tag needs 'address'"));
                    continue;
                };
                let address = int_in(
                    &mut r,
                    &Some(a.clone()),
                    "address",
                    0,
                    65535 - data_type.words() as i64 + 1,
                    0,
                ) as u16;
                Address::Modbus {
                    unit,
                    kind,
                    address,
                    data_type,
                    word_order,
                }
            }
            Connection::Mqtt(_) => match &t.topic {
                Some(topic) => Address::Mqtt {
                    topic: topic.get_ref().clone(),
                    field: t.field_path.clone().unwrap_or_default(),
                },
                None => {
                    r.error(t.name.span(), format!("tag '{name}': an MQTT tag needs 'topic'"));
                    continue;
                }
            },
        };
        let field = t.field.get_ref();
        if !FIELDS.contains(&field.as_str()) {
            r.unknown(t.field.span(), "field", field, &ctx, FIELDS);
        }
        let station = match &t.station {
            None => None,
            Some(s) => match plant {
                None => None,
                Some(p) => match p.stations.iter().position(|x| &x.name == s.get_ref()) {
                    Some(i) => Some(i),
                    None => {
                        r.unknown(s.span(), "station", s.get_ref(), &ctx, station_names.iter().copied());
                        None
                    }
                },
            },
        };
        let interval = dur(&mut r, &t.interval, "interval", Duration::from_millis(500));
        let stale_default = (interval * 3).max(Duration::from_secs(1));
        let stale_after = dur(&mut r, &t.stale_after, "stale_after", stale_default);
        let deadband = number_or(
            &mut r,
            &t.deadband,
            0.0,
            |x| x.is_finite() && x >= 0.0,
            name,
            "deadband",
            "a finite number >= 0",
        );
        let scale = number_or(
            &mut r,
            &t.scale,
            1.0,
            |x| x.is_finite() && x != 0.0,
            name,
            "scale",
            "a finite, non-zero number",
        );
        let offset = number_or(&mut r, &t.offset, 0.0, f64::is_finite, name, "offset", "finite");
        let down_values = match &t.down_values {
            Some(v) if v.get_ref().iter().any(|x| !x.is_finite()) => {
                r.error(v.span(), format!("tag '{name}': down_values must be finite numbers"));
                vec![4.0]
            }
            Some(v) => v.get_ref().clone(),
            None => vec![4.0],
        };
        let write = t.write.as_ref().map(|w| {
            let span = w.span();
            let w = w.get_ref();
            if !(w.min.is_finite() && w.max.is_finite() && w.min <= w.max) {
                r.error(span.clone(), format!("tag '{name}': write needs finite min <= max"));
            }
            if w.max_rate.is_some_and(|x| !(x.is_finite() && x > 0.0)) {
                r.error(
                    span.clone(),
                    format!("tag '{name}': max_rate must be a finite number > 0"),
                );
            }
            if let Some(v) = w.safe_value
                && !(w.min..=w.max).contains(&v)
            {
                r.error(
                    span.clone(),
                    format!("tag '{name}': safe_value {v} is outside [min, max]"),
                );
            }
            let check_tag = |r: &mut Reporter, s: &Spanned<String>, what: &str| {
                if !tag_names.contains(s.get_ref()) {
                    r.unknown(s.span(), what, s.get_ref(), &ctx, tag_names.iter().map(|x| x.as_str()));
                }
            };
            if let Some(p) = &w.permissive {
                check_tag(&mut r, p, "permissive tag");
            }
            for i in &w.inputs {
                check_tag(&mut r, i, "input tag");
            }
            WriteSpec {
                min: w.min,
                max: w.max,
                max_rate: w.max_rate,
                readback: w.readback.unwrap_or(true),
                permissive: w.permissive.as_ref().map(|p| p.get_ref().clone()),
                inputs: w.inputs.iter().map(|i| i.get_ref().clone()).collect(),
                safe_value: w.safe_value,
                watchdog: w
                    .watchdog
                    .as_ref()
                    .map(|_| dur(&mut r, &w.watchdog, "watchdog", Duration::from_secs(10))),
            }
        });
        if let (Some(_), Address::Modbus { kind, .. }) = (&write, &address)
            && matches!(kind, RegisterKind::Input | RegisterKind::Discrete)
        {
            r.error(
                t.name.span(),
                format!("tag '{name}': input registers and discrete inputs cannot be written"),
            );
        }
        tags.push(Tag {
            name: name.clone(),
            connection: conn,
            address,
            station,
            station_name: t.station.as_ref().map(|s| s.get_ref().clone()),
            field: field.clone(),
            scale,
            offset,
            deadband,
            interval,
            stale_after,
            down_values,
            write,
        });
    }
    r.finish(TagMap {
        path: path.to_path_buf(),
        connections,
        tags,
    })
}

/// An optional number of tag `name`: `default` when absent; when `ok` refuses it, a located
/// error ("tag 'N': KEY must be RULE, got X") and the default.
fn number_or(
    r: &mut Reporter,
    v: &Option<Spanned<f64>>,
    default: f64,
    ok: impl Fn(f64) -> bool,
    name: &str,
    key: &str,
    rule: &str,
) -> f64 {
    match v {
        None => default,
        Some(x) if ok(*x.get_ref()) => *x.get_ref(),
        Some(x) => {
            r.error(
                x.span(),
                format!("tag '{name}': {key} must be {rule}, got {}", x.get_ref()),
            );
            default
        }
    }
}

fn int_in(r: &mut Reporter, v: &Option<Spanned<i64>>, key: &str, lo: i64, hi: i64, default: i64) -> i64 {
    match v {
        None => default,
        Some(x) if (lo..=hi).contains(x.get_ref()) => *x.get_ref(),
        Some(x) => {
            r.error(x.span(), format!("{key} must be in {lo}..={hi}, got {}", x.get_ref()));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[modbus]]
name = "plc"
address = "127.0.0.1:5020"

[[opcua]]
name = "cell"
endpoint = "opc.tcp://127.0.0.1:4840"

[[tag]]
name = "Lathe.Speed"
source = "plc"
register = "holding"
address = 10
type = "f32"
word_order = "little"
field = "speed"
write = { min = 0.5, max = 1.5, max_rate = 0.1, permissive = "Lathe.Remote" }

[[tag]]
name = "Lathe.Remote"
source = "plc"
register = "coil"
address = 3
field = "permissive"

[[tag]]
name = "Lathe.State"
source = "cell"
node = "ns=2;s=Lathe.State"
field = "state"
interval = "200ms"
"#;

    #[test]
    fn a_good_map_loads() {
        let m = parse_tag_map(GOOD, Path::new("t.toml"), None).unwrap();
        assert_eq!(m.connections.len(), 2);
        assert_eq!(m.tags.len(), 3);
        let speed = &m.tags[0];
        assert_eq!(
            speed.address,
            Address::Modbus {
                unit: 1,
                kind: RegisterKind::Holding,
                address: 10,
                data_type: DataType::F32,
                word_order: WordOrder::LittleEndian
            }
        );
        assert_eq!(speed.write.as_ref().unwrap().max_rate, Some(0.1));
        assert_eq!(m.tags[2].stale_after, Duration::from_secs(1));
        assert_eq!(
            m.tags[1].address,
            Address::Modbus {
                unit: 1,
                kind: RegisterKind::Coil,
                address: 3,
                data_type: DataType::Bool,
                word_order: WordOrder::BigEndian
            }
        );
    }

    #[test]
    fn errors_name_line_key_and_nearest() {
        let bad = GOOD
            .replace("source = \"cell\"", "source = \"cel\"")
            .replace("field = \"speed\"", "field = \"sped\"")
            .replace("word_order", "wordorder");
        let e = parse_tag_map(&bad, Path::new("t.toml"), None).unwrap_err().short();
        assert!(e.contains("t.toml:16:1: unknown key 'wordorder'"), "{e}");
        // A syntax/shape error stops parsing; fix it and the other two come out together.
        let bad = GOOD
            .replace("source = \"cell\"", "source = \"cel\"")
            .replace("field = \"speed\"", "field = \"sped\"");
        let e = parse_tag_map(&bad, Path::new("t.toml"), None).unwrap_err().short();
        assert!(
            e.contains("t.toml:29:10: unknown connection 'cel' in tag 'Lathe.State'; did you mean 'cell'?"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:17:9: unknown field 'sped' in tag 'Lathe.Speed'; did you mean 'speed'?"),
            "{e}"
        );
    }

    #[test]
    fn scale_offset_deadband_and_down_values_must_be_finite() {
        let bad = GOOD.replace(
            "interval = \"200ms\"\n",
            "interval = \"200ms\"\nscale = 0.0\noffset = inf\ndeadband = nan\ndown_values = [4.0, inf]\n",
        );
        let e = parse_tag_map(&bad, Path::new("t.toml"), None).unwrap_err().short();
        for want in [
            "t.toml:33:9: tag 'Lathe.State': scale must be a finite, non-zero number, got 0",
            "t.toml:34:10: tag 'Lathe.State': offset must be finite, got inf",
            "t.toml:35:12: tag 'Lathe.State': deadband must be a finite number >= 0, got NaN",
            "t.toml:36:15: tag 'Lathe.State': down_values must be finite numbers",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn write_limits_and_registers_are_checked() {
        let bad = GOOD
            .replace("min = 0.5, max = 1.5", "min = 2.0, max = 1.5")
            .replace("permissive = \"Lathe.Remote\"", "permissive = \"Lathe.Remot\"")
            .replace("address = 3", "address = 70000");
        let e = parse_tag_map(&bad, Path::new("t.toml"), None).unwrap_err().short();
        assert!(e.contains("write needs finite min <= max"), "{e}");
        assert!(e.contains("unknown permissive tag 'Lathe.Remot'"), "{e}");
        assert!(e.contains("did you mean 'Lathe.Remote'?"), "{e}");
        assert!(e.contains("address must be in 0..=65535, got 70000"), "{e}");
    }
}
