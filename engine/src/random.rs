//! Random streams keyed by (run seed, stable model name, purpose), and the distributions drawn
//! from them.
//!
//! Why keyed streams: two variants of a plant (a what-if) must draw the same numbers for the parts
//! of the model they share, so that their difference measures the change and not the noise
//! (common random numbers). Keying by entity id or thread would tie the numbers to spawn order or
//! scheduling; keying by the *name* in the plant file and the purpose ("process", "failure", ...)
//! does not.
//!
//! Why our own generator and samplers rather than `rand`/`rand_distr`: a seed must give the same
//! numbers for the lifetime of a study archive. Upstream crates may change an algorithm in a minor
//! release (rand_distr has), which would silently change every result. xoshiro256++ and the
//! textbook samplers below are small and fixed here.

/// A 64-bit FNV-1a hash: stable across platforms, releases and runs (unlike `std`'s `Hasher`s,
/// whose output Rust does not promise to keep).
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64 step: spreads a 64-bit state into well-mixed output (used for seeding).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The identity of a random stream: which run, which model element, which purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey<'a> {
    /// The run's seed (for replication r of seed s, see [`replication_seed`]).
    pub seed: u64,
    /// A stable name from the model (a station's name), never an entity id.
    pub name: &'a str,
    /// What the draws are for ("process", "failure", "repair", ...).
    pub purpose: &'a str,
}

/// The seed of replication `rep` (0-based) of a run seeded with `seed`.
pub fn replication_seed(seed: u64, rep: u64) -> u64 {
    let mut s = seed ^ rep.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix64(&mut s)
}

/// A xoshiro256++ generator: fast, 2^256 − 1 period, passes BigCrush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RngStream {
    s: [u64; 4],
}

impl RngStream {
    /// The stream for `key`. Same key ⇒ same sequence, on every platform.
    pub fn new(key: StreamKey<'_>) -> RngStream {
        let mut h = fnv1a(&key.seed.to_le_bytes(), 0xcbf2_9ce4_8422_2325);
        h = fnv1a(key.name.as_bytes(), h);
        // A separator byte keeps ("ab","c") and ("a","bc") apart.
        h = fnv1a(&[0xff], h);
        h = fnv1a(key.purpose.as_bytes(), h);
        Self::from_seed(h)
    }

    /// A stream seeded directly from a 64-bit value.
    pub fn from_seed(seed: u64) -> RngStream {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        RngStream { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform draw in the open interval (0, 1): never 0, so `ln(u)` is always finite.
    #[inline]
    pub fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller; the second value is discarded so the stream's
    /// position depends only on the number of draws).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.uniform_open();
        let u2 = self.uniform_open();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Bernoulli draw with success probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform_open() < p
    }
}

/// Right edge of the last rectangle before the tail.
const ZIG_EXP_R: f64 = 7.697_117_470_131_05;
/// Area of each layer.
#[cfg(test)]
const ZIG_EXP_V: f64 = 0.003_949_659_822_581_557;

/// Layer edges `X[i]` of the exponential ziggurat (Marsaglia & Tsang 2000, 256 layers of equal
/// area), decreasing from the base strip's virtual width `X[0]` to `X[256] = 0`. The values are
/// those of the recurrence in `exp_ziggurat_tables` (tests), written out so that a draw reads a plain
/// static table (no lazy initialisation check per draw); a unit test recomputes them.
static ZIG_EXP_X: [f64; 257] = [
    8.697117470131053,
    7.69711747013105,
    6.941033629377213,
    6.47837849383257,
    6.144164665772473,
    5.8821443157954,
    5.666410167454034,
    5.4828906275260625,
    5.323090505754398,
    5.1814872813015,
    5.054288489981304,
    4.9387770859012505,
    4.832939741025112,
    4.735242996601741,
    4.644491885420085,
    4.559737061707351,
    4.480211746528422,
    4.405287693473573,
    4.334443680317273,
    4.267242480277366,
    4.203313713735184,
    4.1423408656640515,
    4.084051310408298,
    4.028208544647937,
    3.974606066673789,
    3.9230625001354897,
    3.873417670399509,
    3.8255294185223367,
    3.779270992411668,
    3.7345288940397974,
    3.691201090237419,
    3.6491955157608538,
    3.6084288131289095,
    3.568825265648337,
    3.5303158891293434,
    3.4928376547740596,
    3.45633282113276,
    3.42074835725112,
    3.386035442460301,
    3.3521490309001094,
    3.319047470970748,
    3.2866921715990687,
    3.25504730857045,
    3.224079565286264,
    3.1937579032122403,
    3.164053358025973,
    3.1349388580844404,
    3.1063890623398245,
    3.0783802152540902,
    3.050890016615455,
    3.0238975044556766,
    2.9973829495161306,
    2.9713277599210897,
    2.9457143948950457,
    2.920526286512741,
    2.895747768600142,
    2.8713640120155364,
    2.847360965635189,
    2.8237253024500353,
    2.800444370250738,
    2.7775061464397566,
    2.7548991965623446,
    2.7326126361947,
    2.7106360958679288,
    2.6889596887418037,
    2.6675739807732666,
    2.646469963151809,
    2.6256390267977885,
    2.6050729387408356,
    2.5847638202141408,
    2.5647041263169053,
    2.54488662711187,
    2.525304390037828,
    2.505950763528594,
    2.4868193617402095,
    2.467904050297365,
    2.4491989329782498,
    2.4306983392644197,
    2.4123968126888706,
    2.394289099921458,
    2.3763701405361406,
    2.3586350574093373,
    2.3410791477030344,
    2.3236978743901964,
    2.30648685828358,
    2.2894418705322694,
    2.272558825553155,
    2.255833774367219,
    2.239262898312909,
    2.222842503111037,
    2.206569013257664,
    2.19043896672322,
    2.1744490099377747,
    2.158595893043886,
    2.142876465399842,
    2.1272876713173683,
    2.111826546019042,
    2.096490211801715,
    2.081275874393225,
    2.0661808194905755,
    2.051202409468585,
    2.0363380802487696,
    2.021585338318926,
    2.0069417578945186,
    1.9924049782135766,
    1.9779727009573604,
    1.9636426877895483,
    1.949412758007185,
    1.9352807862970514,
    1.921244700591528,
    1.9073024800183875,
    1.8934521529393082,
    1.8796917950722112,
    1.866019527692828,
    1.8524335159111756,
    1.83893196701888,
    1.8255131289035198,
    1.8121752885263906,
    1.7989167704602909,
    1.785735935484126,
    1.7726311792313056,
    1.7596009308890748,
    1.7466436519460744,
    1.7337578349855716,
    1.7209420025219353,
    1.7081947058780578,
    1.695514524101538,
    1.682900062917554,
    1.6703499537164521,
    1.6578628525741728,
    1.6454374393037237,
    1.6330724165359913,
    1.620766508828258,
    1.6085184617988584,
    1.5963270412864834,
    1.584191032532689,
    1.5721092393862297,
    1.560080483527888,
    1.5481036037145135,
    1.536177455041032,
    1.5243009082192263,
    1.512472848872117,
    1.5006921768428167,
    1.488957805516746,
    1.4772686611561339,
    1.4656236822457454,
    1.4540218188487934,
    1.4424620319720125,
    1.4309432929388797,
    1.4194645827699832,
    1.4080248915695357,
    1.3966232179170421,
    1.385258568263122,
    1.3739299563284906,
    1.3626364025050868,
    1.3513769332583352,
    1.3401505805295046,
    1.3289563811371166,
    1.3177933761763247,
    1.3066606104151741,
    1.295557131686601,
    1.2844819902750126,
    1.2734342382962411,
    1.2624129290696153,
    1.2514171164808525,
    1.2404458543344066,
    1.229498195693849,
    1.2185731922087901,
    1.2076698934267611,
    1.196787346088403,
    1.1859245934042022,
    1.1750806743109117,
    1.164254622705679,
    1.1534454666557747,
    1.1426522275816728,
    1.1318739194110785,
    1.1211095477013302,
    1.110358108727411,
    1.0996185885325973,
    1.0888899619385468,
    1.0781711915113723,
    1.0674612264799677,
    1.0567590016025514,
    1.0460634359770442,
    1.0353734317905285,
    1.0246878730026172,
    1.0140056239570965,
    1.0033255279156967,
    0.9926464055072759,
    0.9819670530850626,
    0.9712862409839033,
    0.9606027116686665,
    0.949915177764076,
    0.9392223199552623,
    0.9285227847472104,
    0.9178151820700443,
    0.9070980827156903,
    0.8963700155898899,
    0.8856294647617515,
    0.8748748662910251,
    0.8641046048110045,
    0.8533170098423734,
    0.8425103518103685,
    0.8316828377342732,
    0.8208326065544118,
    0.8099577240574183,
    0.7990561773554872,
    0.7881258688694924,
    0.7771646097591297,
    0.7661701127354347,
    0.7551399841819822,
    0.7440717155005081,
    0.7329626735843654,
    0.7218100903087562,
    0.710611050909655,
    0.699362481103232,
    0.6880611327737478,
    0.6767035680295226,
    0.6652861413926779,
    0.653804979847665,
    0.6422559604245364,
    0.6306346849334903,
    0.6189364513948761,
    0.6071562216203,
    0.5952885842915029,
    0.5833277127487695,
    0.5712673165325883,
    0.5591005855115406,
    0.5468201251633106,
    0.5344178812371656,
    0.521885051592135,
    0.5092119824436544,
    0.49638804551867116,
    0.48340149165346186,
    0.470239275082169,
    0.45688684093142024,
    0.4433278660735524,
    0.4295439402254107,
    0.41551416960035636,
    0.40121467889627777,
    0.3866179779411196,
    0.37169214532991723,
    0.3563997602583938,
    0.3406964810648491,
    0.32452911701690945,
    0.30783295467493216,
    0.2905279554912304,
    0.2725131854784647,
    0.253658363385912,
    0.23379048305967473,
    0.21267151063096662,
    0.18995868962243184,
    0.16512762256418728,
    0.1373049809400126,
    0.10483850756581878,
    0.06385216381500157,
    0.0,
];

/// `F[i] = exp(-X[i])` for the layer edges of [`ZIG_EXP_X`].
static ZIG_EXP_F: [f64; 257] = [
    0.00016706669230796337,
    0.0004541343538414966,
    0.0009672692823271743,
    0.0015362997803015726,
    0.002145967743718907,
    0.0027887987935740757,
    0.003460264777836904,
    0.004157295120833797,
    0.004877655983542396,
    0.005619642207205489,
    0.006381905937319183,
    0.007163353183634991,
    0.007963077438017043,
    0.008780314985808977,
    0.009614413642502212,
    0.01046481018102998,
    0.0113310135978346,
    0.012212592426255378,
    0.013109164931254991,
    0.014020391403181943,
    0.014945968011691148,
    0.015885621839973156,
    0.01683910682603994,
    0.017806200410911355,
    0.018786700744696024,
    0.01978042433800974,
    0.020787204072578114,
    0.02180688750428358,
    0.02283933540638524,
    0.023884420511558174,
    0.024942026419731787,
    0.02601204664513422,
    0.027094383780955803,
    0.028188948763978646,
    0.02929566022463741,
    0.03041444391046662,
    0.03154523217289362,
    0.032687963508959555,
    0.03384258215087436,
    0.03500903769739743,
    0.03618728478193144,
    0.03737728277295938,
    0.03857899550307487,
    0.03979239102337414,
    0.04101744138041484,
    0.042254122413316254,
    0.0435024135688882,
    0.04476229773294329,
    0.046033761076175184,
    0.04731679291318156,
    0.048611385573379504,
    0.04991753428270638,
    0.05123523705512628,
    0.052564494593071685,
    0.05390531019604608,
    0.05525768967669703,
    0.05662164128374287,
    0.05799717563120066,
    0.05938430563342028,
    0.06078304644547966,
    0.062193415408541036,
    0.06361543199980738,
    0.0650491177867538,
    0.06649449638533982,
    0.06795159342193664,
    0.06942043649872878,
    0.07090105516237184,
    0.07239348087570875,
    0.07389774699236475,
    0.07541388873405841,
    0.07694194317048052,
    0.07848194920160644,
    0.0800339475423199,
    0.08159798070923742,
    0.0831740930096324,
    0.08476233053236815,
    0.08636274114075693,
    0.08797537446727023,
    0.08960028191003289,
    0.0912375166310402,
    0.09288713355604357,
    0.09454918937605587,
    0.09622374255043283,
    0.09791085331149221,
    0.09961058367063713,
    0.10132299742595363,
    0.1030481601712577,
    0.10478613930657016,
    0.10653700405000163,
    0.10830082545103376,
    0.11007767640518536,
    0.11186763167005628,
    0.11367076788274429,
    0.1154871635786335,
    0.11731689921155553,
    0.11916005717532764,
    0.12101672182667479,
    0.12288697950954511,
    0.12477091858083093,
    0.12666862943751067,
    0.1285802045452282,
    0.13050573846833077,
    0.1324453279013875,
    0.1343990717022136,
    0.13636707092642883,
    0.13834942886358018,
    0.1403462510748624,
    0.14235764543247215,
    0.14438372216063472,
    0.1464245938783449,
    0.14848037564386674,
    0.15055118500103984,
    0.1526371420274428,
    0.15473836938446803,
    0.15685499236936515,
    0.15898713896931413,
    0.16113493991759195,
    0.16329852875190173,
    0.16547804187493592,
    0.16767361861725008,
    0.16988540130252755,
    0.17211353531531998,
    0.1743581691713534,
    0.17661945459049483,
    0.17889754657247828,
    0.18119260347549626,
    0.18350478709776744,
    0.18583426276219708,
    0.18818119940425426,
    0.19054576966319536,
    0.1929281499767713,
    0.1953285206795632,
    0.19774706610509882,
    0.2001839746919112,
    0.20263943909370896,
    0.20511365629383765,
    0.20760682772422198,
    0.21011915938898823,
    0.21265086199297822,
    0.21520215107537863,
    0.21777324714870047,
    0.22036437584335944,
    0.2229757680581201,
    0.22560766011668396,
    0.22826029393071662,
    0.23093391716962736,
    0.2336287834374333,
    0.23634515245705956,
    0.2390832902624491,
    0.24184346939887713,
    0.24462596913189202,
    0.24743107566532754,
    0.25025908236886224,
    0.2531102900156294,
    0.2559850070304153,
    0.2588835497490162,
    0.2618062426893629,
    0.26475341883506215,
    0.26772541993204474,
    0.27072259679905997,
    0.2737453096528029,
    0.2767939284485173,
    0.27986883323697287,
    0.28297041453878075,
    0.2860990737370768,
    0.2892552234896777,
    0.29243928816189263,
    0.29565170428126125,
    0.29889292101558185,
    0.3021634006756935,
    0.30546361924459026,
    0.3087940669345602,
    0.3121552487741796,
    0.31554768522712895,
    0.31897191284495724,
    0.3224284849560892,
    0.32591797239355635,
    0.32944096426413644,
    0.3329980687618091,
    0.3365899140286777,
    0.3402171490667802,
    0.3438804447045026,
    0.34758049462163715,
    0.35131801643748345,
    0.3550937528667876,
    0.35890847294875,
    0.362762973354818,
    0.3666580797815144,
    0.3705946484351462,
    0.3745735676159024,
    0.37859575940958107,
    0.38266218149601006,
    0.38677382908413793,
    0.3909317369847974,
    0.39513698183329043,
    0.39939068447523135,
    0.40369401253053055,
    0.4080481831520327,
    0.41245446599716146,
    0.4169141864330032,
    0.4214287289976169,
    0.4259995411430347,
    0.43062813728845917,
    0.4353161032156369,
    0.4400651008423542,
    0.44487687341454885,
    0.44975325116275533,
    0.45469615747461584,
    0.459707615642138,
    0.4647897562504265,
    0.4699448252839603,
    0.4751751930373777,
    0.48048336393045454,
    0.48587198734188525,
    0.49134386959403287,
    0.4969019872415499,
    0.5025495018413481,
    0.5082897764106432,
    0.5141263938147489,
    0.5200631773682339,
    0.5261042139836201,
    0.5322538802630437,
    0.5385168720028622,
    0.5448982376724401,
    0.5514034165406417,
    0.5580382822625879,
    0.5648091929124006,
    0.5717230486648262,
    0.5787873586028454,
    0.5860103184772684,
    0.5934009016917338,
    0.6009689663652326,
    0.6087253820796223,
    0.6166821809152079,
    0.6248527387036662,
    0.6332519942143664,
    0.6418967164272664,
    0.6508058334145714,
    0.6600008410790001,
    0.6695063167319252,
    0.6793505722647658,
    0.6895664961170784,
    0.7001926550827886,
    0.7112747608050765,
    0.7228676595935725,
    0.735038092431424,
    0.7478686219851957,
    0.7614633888498968,
    0.7759568520401162,
    0.7915276369724963,
    0.808421651523009,
    0.8269932966430511,
    0.8477855006239905,
    0.8717043323812047,
    0.9004699299257477,
    0.9381436808621765,
    1.0,
];

/// The exponential ziggurat's tables (`X`, `F`) from their defining recurrence: layer i spans
/// heights `F[i]..F[i+1]` with area `V`, so `F[i+1] = V / X[i] + F[i]`. The sampler reads the
/// written-out copies [`ZIG_EXP_X`] and [`ZIG_EXP_F`]; this is their reference.
#[cfg(test)]
fn exp_ziggurat_tables() -> ([f64; 257], [f64; 257]) {
    let mut x = [0.0; 257];
    x[0] = ZIG_EXP_V / (-ZIG_EXP_R).exp();
    x[1] = ZIG_EXP_R;
    for i in 1..256 {
        x[i + 1] = -(ZIG_EXP_V / x[i] + (-x[i]).exp()).ln();
    }
    x[256] = 0.0;
    let mut f = [0.0; 257];
    for i in 0..257 {
        f[i] = (-x[i]).exp();
    }
    (x, f)
}

impl RngStream {
    /// A standard exponential draw (mean 1) by the ziggurat method: about 99% of draws cost one
    /// random word, a multiplication and a comparison (inlined into the caller); the rest fall
    /// back to exact tests out of line.
    #[inline]
    pub fn standard_exponential(&mut self) -> f64 {
        let bits = self.next_u64();
        let i = (bits & 0xff) as usize;
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * ZIG_EXP_X[i];
        if x < ZIG_EXP_X[i + 1] {
            return x;
        }
        self.standard_exponential_edge(i, x)
    }

    /// The ziggurat's rare cases: the draw `x` fell in layer `i` outside its inner rectangle.
    #[cold]
    #[inline(never)]
    fn standard_exponential_edge(&mut self, mut i: usize, mut x: f64) -> f64 {
        let (zx, zf) = (&ZIG_EXP_X, &ZIG_EXP_F);
        loop {
            if i == 0 {
                // The tail beyond R is again exponential (memorylessness).
                return ZIG_EXP_R - self.uniform_open().ln();
            }
            if zf[i + 1] + (zf[i] - zf[i + 1]) * self.uniform_open() < (-x).exp() {
                return x;
            }
            let bits = self.next_u64();
            i = (bits & 0xff) as usize;
            let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            x = u * zx[i];
            if x < zx[i + 1] {
                return x;
            }
        }
    }
}

/// A probability distribution over non-negative values (durations in seconds, counts, ...).
///
/// Parameters are in the units of the variable (a lognormal's `mean` and `sd` are those of the
/// variable itself, not of its logarithm). Construct through [`Distribution::validate`]d values;
/// sampling assumes valid parameters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Distribution {
    /// Always `value`.
    Constant { value: f64 },
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Triangular on `[min, max]` with peak at `mode`.
    Triangular { min: f64, mode: f64, max: f64 },
    /// Exponential with the given mean (rate = 1/mean).
    Exponential { mean: f64 },
    /// Normal with `mean` and `sd`, truncated at 0 (conditioned on being >= 0, by rejection).
    Normal { mean: f64, sd: f64 },
    /// Lognormal with the given mean and standard deviation of the variable.
    Lognormal { mean: f64, sd: f64 },
    /// Gamma with shape `k` and scale `theta` (mean = k·theta). Erlang-k is integer `k`.
    Gamma { shape: f64, scale: f64 },
    /// Weibull with shape `k` and scale `lambda`.
    Weibull { shape: f64, scale: f64 },
    /// Empirical, built by [`Distribution::empirical`]. Discrete: `values[i]` with probability
    /// `cdf[i] − cdf[i−1]`. Continuous: `values` sorted, a piecewise-linear CDF through the
    /// points `(values[i], cdf[i])` with `cdf[0] = 0`.
    Empirical {
        values: Vec<f64>,
        cdf: Vec<f64>,
        continuous: bool,
    },
}

/// Why a distribution's parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

fn need(cond: bool, msg: impl FnOnce() -> String) -> Result<(), ParamError> {
    if cond { Ok(()) } else { Err(ParamError(msg())) }
}

impl Distribution {
    /// Checks the parameters: finite, non-negative support, ordered bounds, positive shapes.
    pub fn validate(&self) -> Result<(), ParamError> {
        use Distribution::*;
        let finite = |name: &str, v: f64| need(v.is_finite(), || format!("{name} must be finite, got {v}"));
        match self {
            Constant { value } => {
                finite("value", *value)?;
                need(*value >= 0.0, || format!("value must be >= 0, got {value}"))
            }
            Uniform { min, max } => {
                finite("min", *min)?;
                finite("max", *max)?;
                need(*min >= 0.0, || format!("min must be >= 0, got {min}"))?;
                need(min <= max, || format!("min ({min}) must be <= max ({max})"))
            }
            Triangular { min, mode, max } => {
                finite("min", *min)?;
                finite("mode", *mode)?;
                finite("max", *max)?;
                need(*min >= 0.0, || format!("min must be >= 0, got {min}"))?;
                need(min <= mode && mode <= max && min < max, || {
                    format!("need min <= mode <= max and min < max, got {min}, {mode}, {max}")
                })
            }
            Exponential { mean } => {
                finite("mean", *mean)?;
                need(*mean > 0.0, || format!("mean must be > 0, got {mean}"))
            }
            Normal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                need(*sd >= 0.0, || format!("sd must be >= 0, got {sd}"))?;
                // Rejection below 0 must stay cheap: demand at least ~0.1% of the mass above 0.
                need(*mean > -3.0 * sd || *mean >= 0.0, || {
                    format!("mean ({mean}) is so far below 0 for sd {sd} that truncation at 0 leaves almost nothing")
                })?;
                need(*mean >= 0.0 || *sd > 0.0, || format!("mean must be >= 0, got {mean}"))
            }
            Lognormal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                need(*mean > 0.0, || format!("mean must be > 0, got {mean}"))?;
                need(*sd >= 0.0, || format!("sd must be >= 0, got {sd}"))
            }
            Gamma { shape, scale } | Weibull { shape, scale } => {
                finite("shape", *shape)?;
                finite("scale", *scale)?;
                need(*shape > 0.0, || format!("shape must be > 0, got {shape}"))?;
                need(*scale > 0.0, || format!("scale must be > 0, got {scale}"))
            }
            Empirical { values, cdf, .. } => {
                need(!values.is_empty() && values.len() == cdf.len(), || {
                    "needs at least one value".to_string()
                })?;
                for v in values {
                    finite("value", *v)?;
                    need(*v >= 0.0, || format!("values must be >= 0, got {v}"))?;
                }
                need(
                    cdf.windows(2).all(|w| w[0] <= w[1]) && (cdf[cdf.len() - 1] - 1.0).abs() < 1e-9,
                    || "cumulative probabilities must rise to 1".to_string(),
                )
            }
        }
    }

    /// An empirical distribution from observed `values` with relative `weights` (equal weights
    /// if `None`): discrete, or with `continuous` a piecewise-linear CDF through the sorted
    /// values, where `weights[i]` is the probability mass between the (i−1)-th and i-th
    /// smallest value (the smallest value's weight is ignored). The CDF is built once here, so a
    /// draw costs a binary search.
    pub fn empirical(
        values: Vec<f64>,
        weights: Option<Vec<f64>>,
        continuous: bool,
    ) -> Result<Distribution, ParamError> {
        let weights = weights.unwrap_or_else(|| vec![1.0; values.len()]);
        need(!values.is_empty(), || "needs at least one value".to_string())?;
        need(values.len() == weights.len(), || {
            format!("{} values but {} weights", values.len(), weights.len())
        })?;
        for w in &weights {
            need(w.is_finite() && *w >= 0.0, || format!("weights must be >= 0, got {w}"))?;
        }
        let d = if continuous {
            let mut pairs: Vec<(f64, f64)> = values.into_iter().zip(weights).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = pairs.len();
            let total: f64 = pairs.iter().skip(1).map(|p| p.1).sum();
            let mut acc = 0.0;
            let mut cdf = Vec::with_capacity(n);
            for (i, p) in pairs.iter().enumerate() {
                if i > 0 {
                    acc += if total > 0.0 { p.1 / total } else { 1.0 / (n - 1) as f64 };
                }
                cdf.push(acc);
            }
            if n == 1 {
                cdf[0] = 1.0;
            } else {
                cdf[n - 1] = 1.0;
            }
            Distribution::Empirical {
                values: pairs.into_iter().map(|p| p.0).collect(),
                cdf,
                continuous: true,
            }
        } else {
            let total: f64 = weights.iter().sum();
            need(total > 0.0, || "weights sum to 0".to_string())?;
            let mut acc = 0.0;
            let mut cdf: Vec<f64> = weights
                .iter()
                .map(|w| {
                    acc += w / total;
                    acc
                })
                .collect();
            let last = cdf.len() - 1;
            cdf[last] = 1.0;
            Distribution::Empirical {
                values,
                cdf,
                continuous: false,
            }
        };
        d.validate()?;
        Ok(d)
    }

    /// The distribution's mean (of the truncated normal: its truncated mean).
    pub fn mean(&self) -> f64 {
        use Distribution::*;
        match self {
            Constant { value } => *value,
            Uniform { min, max } => 0.5 * (min + max),
            Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Exponential { mean } | Lognormal { mean, .. } => *mean,
            Normal { mean, sd } => {
                if *sd == 0.0 {
                    return mean.max(0.0);
                }
                let a = -mean / sd;
                mean + sd * std_normal_pdf(a) / (1.0 - std_normal_cdf(a))
            }
            Gamma { shape, scale } => shape * scale,
            Weibull { shape, scale } => scale * gamma_fn(1.0 + 1.0 / shape),
            Empirical {
                values,
                cdf,
                continuous,
            } => {
                if *continuous && values.len() > 1 {
                    // Piecewise-linear CDF: the mean of each segment is its midpoint.
                    (1..values.len())
                        .map(|i| (cdf[i] - cdf[i - 1]) * 0.5 * (values[i] + values[i - 1]))
                        .sum()
                } else if *continuous {
                    values[0]
                } else {
                    let mut prev = 0.0;
                    values
                        .iter()
                        .zip(cdf)
                        .map(|(v, c)| {
                            let p = c - prev;
                            prev = *c;
                            v * p
                        })
                        .sum()
                }
            }
        }
    }

    /// One draw.
    ///
    /// The few families that a hot loop draws most (exponential, constant, uniform) are
    /// inlined into the caller; the rest go through one out-of-line function.
    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> f64 {
        match self {
            Distribution::Exponential { mean } => mean * rng.standard_exponential(),
            Distribution::Constant { value } => *value,
            _ => self.sample_other(rng),
        }
    }

    /// [`Distribution::sample`] for every family (the out-of-line part).
    #[inline(never)]
    fn sample_other(&self, rng: &mut RngStream) -> f64 {
        use Distribution::*;
        match self {
            Constant { value } => *value,
            Uniform { min, max } => min + (max - min) * rng.uniform_open(),
            Triangular { min, mode, max } => {
                let u = rng.uniform_open();
                let f = (mode - min) / (max - min);
                if u < f {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Exponential { mean } => mean * rng.standard_exponential(),
            Normal { mean, sd } => loop {
                let x = mean + sd * rng.standard_normal();
                if x >= 0.0 {
                    break x;
                }
            },
            Lognormal { mean, sd } => {
                let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                let mu = mean.ln() - 0.5 * s2;
                (mu + s2.sqrt() * rng.standard_normal()).exp()
            }
            Gamma { shape, scale } => scale * sample_gamma(*shape, rng),
            Weibull { shape, scale } => scale * (-rng.uniform_open().ln()).powf(1.0 / shape),
            Empirical {
                values,
                cdf,
                continuous,
            } => {
                let u = rng.uniform_open();
                if *continuous {
                    if values.len() == 1 {
                        return values[0];
                    }
                    let i = cdf.partition_point(|&x| x < u).clamp(1, values.len() - 1);
                    let span = cdf[i] - cdf[i - 1];
                    let frac = if span > 0.0 { (u - cdf[i - 1]) / span } else { 0.0 };
                    values[i - 1] + frac * (values[i] - values[i - 1])
                } else {
                    let i = cdf.partition_point(|&c| c <= u).min(values.len() - 1);
                    values[i]
                }
            }
        }
    }
}

/// Marsaglia–Tsang gamma sampler (shape >= 1), with the boost for shape < 1.
fn sample_gamma(shape: f64, rng: &mut RngStream) -> f64 {
    if shape < 1.0 {
        let u = rng.uniform_open();
        return sample_gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.standard_normal();
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = rng.uniform_open();
        if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// The gamma function Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn gamma_fn(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma_fn(1.0 - x));
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

fn std_normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal CDF via the complementary error function (Numerical Recipes erfc, ~1.2e-7).
pub fn std_normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { 1.0 - 0.5 * r } else { 0.5 * r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(seed: u64, name: &'a str, purpose: &'a str) -> StreamKey<'a> {
        StreamKey { seed, name, purpose }
    }

    #[test]
    fn written_out_ziggurat_tables_equal_their_recurrence() {
        let (x, f) = exp_ziggurat_tables();
        for i in 0..257 {
            assert_eq!(ZIG_EXP_X[i].to_bits(), x[i].to_bits(), "X[{i}]");
            assert_eq!(ZIG_EXP_F[i].to_bits(), f[i].to_bits(), "F[{i}]");
        }
    }

    #[test]
    fn streams_are_keyed_by_name_and_purpose() {
        let a1: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let a2: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = RngStream::new(key(7, "Lathe", "failure"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = RngStream::new(key(8, "Lathe", "process"));
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
        assert_ne!(RngStream::new(key(1, "ab", "c")), RngStream::new(key(1, "a", "bc")));
    }

    /// Sample means and variances of 200k draws against the closed forms, within 5 standard
    /// errors of the mean (the variance check is looser: 5% relative).
    #[test]
    fn sample_moments_match_closed_forms() {
        let cases: Vec<(Distribution, f64)> = vec![
            (Distribution::Uniform { min: 2.0, max: 6.0 }, 16.0 / 12.0),
            (
                Distribution::Triangular {
                    min: 1.0,
                    mode: 2.0,
                    max: 6.0,
                },
                (1.0 + 4.0 + 36.0 - 2.0 - 6.0 - 12.0) / 18.0,
            ),
            (Distribution::Exponential { mean: 3.0 }, 9.0),
            (Distribution::Lognormal { mean: 55.0, sd: 8.0 }, 64.0),
            (Distribution::Gamma { shape: 3.0, scale: 2.0 }, 12.0),
            (Distribution::Gamma { shape: 0.5, scale: 2.0 }, 2.0),
            (
                Distribution::Weibull {
                    shape: 1.5,
                    scale: 10.0,
                },
                100.0 * (gamma_fn(1.0 + 2.0 / 1.5) - gamma_fn(1.0 + 1.0 / 1.5).powi(2)),
            ),
            (Distribution::Normal { mean: 10.0, sd: 2.0 }, 4.0),
            (
                Distribution::empirical(vec![1.0, 2.0, 4.0], Some(vec![1.0, 1.0, 2.0]), false).unwrap(),
                1.6875 + 0.0,
            ),
        ];
        for (d, var) in cases {
            d.validate().unwrap();
            let mut r = RngStream::from_seed(42);
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (var / n as f64).sqrt();
            assert!((m - d.mean()).abs() < 5.0 * se, "{d:?}: mean {m} vs {}", d.mean());
            assert!((v - var).abs() < 0.05 * var, "{d:?}: var {v} vs {var}");
            assert!(xs.iter().all(|&x| x >= 0.0));
        }
    }

    /// The ziggurat's tail and body: P(X > t) = exp(−t) for a standard exponential, checked at
    /// several t within 4 binomial standard errors over 4 million draws.
    #[test]
    fn ziggurat_exponential_survival_function() {
        let mut r = RngStream::from_seed(5);
        let n = 4_000_000;
        let ts = [0.01, 0.5, 1.0, 2.0, 4.0, 7.0, 7.697, 9.0];
        let mut counts = [0u64; 8];
        for _ in 0..n {
            let x = r.standard_exponential();
            assert!(x >= 0.0 && x.is_finite());
            for (c, t) in counts.iter_mut().zip(ts) {
                if x > t {
                    *c += 1;
                }
            }
        }
        for (c, t) in counts.iter().zip(ts) {
            let p = (-t).exp();
            let se = (p * (1.0 - p) / n as f64).sqrt();
            let got = *c as f64 / n as f64;
            assert!((got - p).abs() < 4.0 * se, "P(X > {t}) = {got}, expected {p}");
        }
    }

    #[test]
    fn ziggurat_layers_close_at_zero() {
        let (x, f) = (&ZIG_EXP_X, &ZIG_EXP_F);
        // R and V are consistent only if the recursion closes: the top layer, from F[255] up to
        // the density's peak 1, has the same area V as every other layer.
        let top = x[255] * (1.0 - f[255]);
        assert!(
            (top - ZIG_EXP_V).abs() < 1e-9 * ZIG_EXP_V.max(1.0),
            "top layer area {top} vs {ZIG_EXP_V}"
        );
        assert!(x.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn truncated_normal_has_truncated_mean() {
        let d = Distribution::Normal { mean: 1.0, sd: 2.0 };
        let mut r = RngStream::from_seed(3);
        let n = 200_000;
        let m = (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64;
        assert!((m - d.mean()).abs() < 0.02, "{m} vs {}", d.mean());
    }

    #[test]
    fn continuous_empirical_interpolates() {
        let d = Distribution::empirical(vec![10.0, 0.0], None, true).unwrap();
        assert_eq!(d.mean(), 5.0);
        let mut r = RngStream::from_seed(1);
        let m = (0..100_000).map(|_| d.sample(&mut r)).sum::<f64>() / 100_000.0;
        assert!((m - 5.0).abs() < 0.1);
    }

    #[test]
    fn empirical_weights_and_degenerate_cases() {
        // Continuous with uneven mass: 3/4 of it between 0 and 1, 1/4 between 1 and 9.
        let d = Distribution::empirical(vec![0.0, 1.0, 9.0], Some(vec![0.0, 3.0, 1.0]), true).unwrap();
        assert!((d.mean() - (0.75 * 0.5 + 0.25 * 5.0)).abs() < 1e-12);
        let one = Distribution::empirical(vec![4.0], None, true).unwrap();
        assert_eq!(one.sample(&mut RngStream::from_seed(1)), 4.0);
        let disc = Distribution::empirical(vec![4.0], None, false).unwrap();
        assert_eq!((disc.mean(), disc.sample(&mut RngStream::from_seed(1))), (4.0, 4.0));
        assert!(Distribution::empirical(vec![], None, false).is_err());
        assert!(Distribution::empirical(vec![1.0, 2.0], Some(vec![0.0, 0.0]), false).is_err());
        assert!(Distribution::empirical(vec![1.0], Some(vec![1.0, 2.0]), false).is_err());
        assert!(Distribution::empirical(vec![-1.0], None, false).is_err());
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(Distribution::Exponential { mean: -1.0 }.validate().is_err());
        assert!(Distribution::Uniform { min: 5.0, max: 1.0 }.validate().is_err());
        assert!(Distribution::Lognormal { mean: 0.0, sd: 1.0 }.validate().is_err());
        assert!(Distribution::Weibull { shape: 0.0, scale: 1.0 }.validate().is_err());
        assert!(Distribution::Normal { mean: -10.0, sd: 1.0 }.validate().is_err());
    }

    #[test]
    fn gamma_function_known_values() {
        assert!((gamma_fn(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma_fn(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
        assert!((std_normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }
}
