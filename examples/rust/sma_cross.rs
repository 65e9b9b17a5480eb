//! Example bot in Rust: the SMA crossover of examples/sma_cross.c, long only.
//!
//! signal.mode "sma_cross"; params fast (default 10), slow (30), qty (100).
//! For every symbol the bot trades, on the last completed bar:
//!   - entry (on_tick): nothing held, no entry working, and the fast SMA of
//!     the closes crossed above the slow one (fast > slow now, fast <= slow
//!     one bar earlier): a market buy of qty;
//!   - exit (manage): shares held, no exit working, and fast < slow: a
//!     market sell of all.
//! The averages are exact window sums, oldest close first, as
//! hydra/indicators.h computes them, so this bot makes the C example's
//! trades to the cent.
//!
//! Built by Debian's rustc alone, no cargo and no crates:
//!
//!   rustc --crate-type cdylib --crate-name rust_sma --edition 2021 -O sma_cross.rs
//!
//! The ABI types below are written by hand from sdk/include/hydra/plugin.h
//! and types.h (#[repr(C)], field for field); tests/unit/test_rust_bot.c
//! checks every size and offset against the C compiler's. A panic never
//! crosses into the host: each callback runs under catch_unwind and a panic
//! becomes HYDRA_BOT_ERROR, which quarantines the bot. The cdylib exports
//! only #[no_mangle] items: hydra_plugin_entry (and, in the layout-probe
//! build for the test, hydra_rust_layout and hydra_rust_guarded_panic).

// The structs mirror the header whole, including fields this bot never reads.
#![allow(dead_code)]

use std::mem::size_of;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

// ---- the C ABI, from sdk/include/hydra/types.h and plugin.h (ABI 1.1) ----

const ABI_MAJOR: u32 = 1;
const ABI_MINOR: u32 = 1;

const BOT_OK: c_int = 0;
const BOT_ERROR: c_int = -1;
const BOT_BAD_CONFIG: c_int = -2;
const PARAM_TYPE: c_int = -2;

const ASSET_EQUITY: u32 = 1;
const SIDE_BUY: u32 = 1;
const SIDE_SELL: u32 = 2;
const ORDER_MARKET: u32 = 1;
const INTENT_ENTRY: u32 = 1;
const INTENT_EXIT: u32 = 2;
const LOG_ERROR: c_int = 3;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct AbiVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

#[repr(C)]
pub struct Bar {
    t_ms: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

#[repr(C)]
pub struct SymbolView {
    struct_size: u32,
    asset_class: u32,
    symbol: *const c_char,
    last_price: f64,
    last_time_ms: i64,
    bars: *const Bar,
    n_bars: u32,
}

#[repr(C)]
pub struct PositionView {
    struct_size: u32,
    asset_class: u32,
    symbol: *const c_char,
    qty: f64,
    avg_entry_price: f64,
    current_price: f64,
    unrealized_pl: f64,
    opened_ms: i64,
}

#[repr(C)]
pub struct OptionView {
    struct_size: u32,
    is_call: u32,
    symbol: *const c_char,
    underlying: *const c_char,
    strike: f64,
    expiry_yyyymmdd: i32,
    dte: i32,
    bid: f64,
    ask: f64,
    iv: f64,
    delta: f64,
    multiplier: u32,
}

#[repr(C)]
pub struct BudgetView {
    struct_size: u32,
    max_daily_loss: f64,
    max_open_risk: f64,
    open_risk_used: f64,
    realized_pnl_today: f64,
    trades_left_today: u32,
    positions_open: u32,
    max_concurrent_positions: u32,
    stop_loss_pct: f64,
}

#[repr(C)]
pub struct OrderView {
    struct_size: u32,
    kind: u32,
    side: u32,
    type_: u32,
    asset_class: u32,
    state: u32,
    client_order_id: *const c_char,
    symbol: *const c_char,
    qty: f64,
    filled_qty: f64,
    limit_price: f64,
    submitted_ms: i64,
}

#[repr(C)]
pub struct Snapshot {
    struct_size: u32,
    _reserved: u32,
    tick: u64,
    now_ms: i64,
    local_date: i32,
    local_minute: i32,
    symbols: *const *const SymbolView,
    n_symbols: u32,
    positions: *const *const PositionView,
    n_positions: u32,
    options: *const *const OptionView,
    n_options: u32,
    budget: *const BudgetView,
    // since 1.1: read only when struct_size covers n_orders
    orders: *const *const OrderView,
    n_orders: u32,
}

#[repr(C)]
pub struct Intent {
    struct_size: u32,
    kind: u32,
    side: u32,
    type_: u32,
    tif: u32,
    asset_class: u32,
    symbol: [c_char; 48],
    qty: f64,
    notional: f64,
    limit_price: f64,
    reason: [c_char; 96],
    // since 1.1
    client_order_id: [c_char; 128],
}

#[repr(C)]
pub struct IntentBuf {
    struct_size: u32,
    item_size: u32,
    capacity: u32,
    count: u32,
    items: *mut c_void,
}

#[repr(C)]
pub struct Fill {
    struct_size: u32,
    side: u32,
    symbol: *const c_char,
    client_order_id: *const c_char,
    qty: f64,
    price: f64,
    t_ms: i64,
}

/// The host's handle (opaque).
#[repr(C)]
pub struct Host {
    _opaque: [u8; 0],
}

#[repr(C)]
pub struct HostApi {
    struct_size: u32,
    abi: AbiVersion,
    log: Option<unsafe extern "C" fn(*mut Host, c_int, *const c_char, *const c_char)>,
    state_get: Option<unsafe extern "C" fn(*mut Host, *const c_char, *mut c_char, usize) -> c_int>,
    state_set: Option<unsafe extern "C" fn(*mut Host, *const c_char, *const c_char) -> c_int>,
    param_double: Option<unsafe extern "C" fn(*mut Host, *const c_char, *mut f64) -> c_int>,
    param_int: Option<unsafe extern "C" fn(*mut Host, *const c_char, *mut i64) -> c_int>,
    param_bool: Option<unsafe extern "C" fn(*mut Host, *const c_char, *mut c_int) -> c_int>,
    param_string: Option<unsafe extern "C" fn(*mut Host, *const c_char, *mut c_char, usize) -> c_int>,
    get_extension: Option<unsafe extern "C" fn(*mut Host, *const c_char) -> *const c_void>,
}

#[repr(C)]
pub struct BotConfig {
    struct_size: u32,
    asset_classes: u32,
    bot_id: *const c_char,
    signal_mode: *const c_char,
    symbols: *const *const c_char,
    n_symbols: u32,
    default_tif: u32,
    default_order_type: u32,
    use_notional: u32,
    default_notional_usd: f64,
}

/// The plugin's own instance, opaque to the host.
pub struct Bot {
    fast: u32,
    slow: u32,
    qty: f64,
}

#[repr(C)]
pub struct Plugin {
    abi: AbiVersion,
    struct_size: u32,
    name: *const c_char,
    version: *const c_char,
    description: *const c_char,
    asset_classes: u32,
    create: Option<unsafe extern "C" fn(*const HostApi, *mut Host, *const BotConfig, *mut *mut Bot) -> c_int>,
    destroy: Option<unsafe extern "C" fn(*mut Bot)>,
    manage: Option<unsafe extern "C" fn(*mut Bot, *const Snapshot, *mut IntentBuf) -> c_int>,
    on_tick: Option<unsafe extern "C" fn(*mut Bot, *const Snapshot, *mut IntentBuf) -> c_int>,
    on_fill: Option<unsafe extern "C" fn(*mut Bot, *const Fill)>,
}

// The entry is immutable data the host only reads.
unsafe impl Sync for Plugin {}

// ---- reading the host's data safely ----

/// A C array of `n` pointers as a slice; empty when the pointer is NULL.
unsafe fn ptrs<'a, T>(p: *const *const T, n: u32) -> &'a [*const T] {
    if p.is_null() || n == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, n as usize)
    }
}

unsafe fn bytes<'a>(s: *const c_char) -> &'a [u8] {
    if s.is_null() {
        &[]
    } else {
        std::ffi::CStr::from_ptr(s).to_bytes()
    }
}

/// True when the sized struct at `p` (its struct_size first) covers `end` bytes.
fn covers(struct_size: u32, end: usize) -> bool {
    struct_size as usize >= end
}

/// The byte just past Snapshot::n_orders: what a 1.1 host's snapshot covers.
fn snapshot_orders_end() -> usize {
    let u = std::mem::MaybeUninit::<Snapshot>::uninit();
    let base = u.as_ptr();
    // SAFETY: addr_of! takes the field's address without reading it.
    let field = unsafe { ptr::addr_of!((*base).n_orders) };
    field as usize - base as usize + size_of::<u32>()
}

fn good_price(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// SMA of the n closes ending `back` bars before the last: their sum,
/// oldest first, divided by n (hydra_sma's arithmetic). None with too few
/// bars or a close that is not finite.
fn sma(bars: &[Bar], n: u32, back: u32) -> Option<f64> {
    let (n, back) = (n as usize, back as usize);
    if n == 0 || bars.len() < n + back {
        return None;
    }
    let end = bars.len() - back;
    let mut sum = 0.0;
    for b in &bars[end - n..end] {
        if !b.close.is_finite() {
            return None;
        }
        sum += b.close;
    }
    Some(sum / n as f64)
}

unsafe fn symbol_bars<'a>(v: &'a SymbolView) -> &'a [Bar] {
    if v.bars.is_null() || v.n_bars == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(v.bars, v.n_bars as usize)
    }
}

/// The bot's quantity held in `symbol` (its first position there, as the C example reads it).
unsafe fn held(snap: &Snapshot, symbol: &[u8]) -> f64 {
    for &p in ptrs(snap.positions, snap.n_positions) {
        if let Some(p) = p.as_ref() {
            if bytes(p.symbol) == symbol {
                return p.qty;
            }
        }
    }
    0.0
}

/// True when the snapshot shows a working order of `kind` for `symbol` (never on a 1.0 host).
unsafe fn working(snap: &Snapshot, symbol: &[u8], kind: u32) -> bool {
    if !covers(snap.struct_size, snapshot_orders_end()) {
        return false;
    }
    ptrs(snap.orders, snap.n_orders)
        .iter()
        .filter_map(|&o| o.as_ref())
        .any(|o| o.kind == kind && bytes(o.symbol) == symbol)
}

/// hydra_intent_push: copies what fits of the intent into the next slot, stamps the size it wrote.
unsafe fn push(buf: *mut IntentBuf, kind: u32, side: u32, symbol: &[u8], qty: f64, why: &str) -> bool {
    let buf = match buf.as_mut() {
        Some(b) => b,
        None => return false,
    };
    let mut it = Intent {
        struct_size: size_of::<Intent>() as u32,
        kind,
        side,
        type_: ORDER_MARKET,
        tif: 0,
        asset_class: ASSET_EQUITY,
        symbol: [0; 48],
        qty,
        notional: 0.0,
        limit_price: 0.0,
        reason: [0; 96],
        client_order_id: [0; 128],
    };
    if symbol.is_empty() || symbol.len() >= it.symbol.len() {
        return false;
    }
    for (d, &s) in it.symbol.iter_mut().zip(symbol) {
        *d = s as c_char;
    }
    for (d, &s) in it.reason.iter_mut().zip(why.as_bytes().iter().take(95)) {
        *d = s as c_char;
    }
    if buf.items.is_null() || buf.count >= buf.capacity || (buf.item_size as usize) < size_of::<u32>() {
        return false;
    }
    let item = buf.item_size as usize;
    let slot = (buf.items as *mut u8).add(buf.count as usize * item);
    let n = size_of::<Intent>().min(item);
    ptr::write_bytes(slot, 0, item);
    ptr::copy_nonoverlapping(&it as *const Intent as *const u8, slot, n);
    let written = n as u32;
    ptr::copy_nonoverlapping(&written as *const u32 as *const u8, slot, size_of::<u32>());
    buf.count += 1;
    true
}

// ---- the callbacks ----

unsafe fn create_impl(api: *const HostApi, host: *mut Host, cfg: *const BotConfig, out: *mut *mut Bot) -> c_int {
    if out.is_null() {
        return BOT_ERROR;
    }
    *out = ptr::null_mut();
    let (api, cfg) = match (api.as_ref(), cfg.as_ref()) {
        (Some(a), Some(c)) => (a, c),
        _ => return BOT_ERROR,
    };
    let int_param = |key: &[u8], def: i64| -> Option<i64> {
        let mut v = def;
        match api.param_int {
            Some(f) if f(host, key.as_ptr() as *const c_char, &mut v) == PARAM_TYPE => None,
            _ => Some(v),
        }
    };
    let fast = int_param(b"fast\0", 10);
    let slow = int_param(b"slow\0", 30);
    let qty = int_param(b"qty\0", 100);
    let ok = bytes(cfg.signal_mode) == b"sma_cross" && cfg.n_symbols >= 1;
    match (fast, slow, qty) {
        // The host shows a bot the last 120 bars, and the previous bar's SMA needs one more.
        (Some(f), Some(s), Some(q)) if ok && f >= 1 && s > f && s <= 119 && q >= 1 => {
            let bot = Box::new(Bot { fast: f as u32, slow: s as u32, qty: q as f64 });
            *out = Box::into_raw(bot);
            BOT_OK
        }
        _ => {
            if let Some(log) = api.log {
                log(host, LOG_ERROR, b"bot_config_error\0".as_ptr() as *const c_char,
                    b"rust_sma: needs signal.mode sma_cross, symbols and integers 1 <= fast < slow < 120, qty >= 1\0"
                        .as_ptr() as *const c_char);
            }
            BOT_BAD_CONFIG
        }
    }
}

unsafe fn manage_impl(bot: &Bot, snap: &Snapshot, out: *mut IntentBuf) -> c_int {
    for &v in ptrs(snap.symbols, snap.n_symbols) {
        let v = match v.as_ref() {
            Some(v) => v,
            None => continue,
        };
        let symbol = bytes(v.symbol);
        let bars = symbol_bars(v);
        let q = held(snap, symbol);
        if !(q > 0.0) || working(snap, symbol, INTENT_EXIT) {
            continue;
        }
        if let (Some(f), Some(s)) = (sma(bars, bot.fast, 0), sma(bars, bot.slow, 0)) {
            if f < s {
                push(out, INTENT_EXIT, SIDE_SELL, symbol, q, "sma fast below slow");
            }
        }
    }
    BOT_OK
}

unsafe fn on_tick_impl(bot: &Bot, snap: &Snapshot, out: *mut IntentBuf) -> c_int {
    for &v in ptrs(snap.symbols, snap.n_symbols) {
        let v = match v.as_ref() {
            Some(v) => v,
            None => continue,
        };
        let symbol = bytes(v.symbol);
        if !good_price(v.last_price) || held(snap, symbol) > 0.0 || working(snap, symbol, INTENT_ENTRY) {
            continue;
        }
        let bars = symbol_bars(v);
        let now = (sma(bars, bot.fast, 0), sma(bars, bot.slow, 0));
        let before = (sma(bars, bot.fast, 1), sma(bars, bot.slow, 1));
        if let ((Some(f), Some(s)), (Some(pf), Some(ps))) = (now, before) {
            if f > s && pf <= ps {
                push(out, INTENT_ENTRY, SIDE_BUY, symbol, bot.qty, "sma fast crossed above slow");
            }
        }
    }
    BOT_OK
}

/// Runs a callback body; a panic becomes HYDRA_BOT_ERROR instead of unwinding into C.
fn guarded<F: FnOnce() -> c_int>(f: F) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(BOT_ERROR)
}

unsafe extern "C" fn create(api: *const HostApi, host: *mut Host, cfg: *const BotConfig, out: *mut *mut Bot) -> c_int {
    guarded(|| create_impl(api, host, cfg, out))
}

unsafe extern "C" fn destroy(bot: *mut Bot) {
    if !bot.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(bot))));
    }
}

unsafe extern "C" fn manage(bot: *mut Bot, snap: *const Snapshot, out: *mut IntentBuf) -> c_int {
    match (bot.as_ref(), snap.as_ref()) {
        (Some(b), Some(s)) => guarded(|| manage_impl(b, s, out)),
        _ => BOT_ERROR,
    }
}

unsafe extern "C" fn on_tick(bot: *mut Bot, snap: *const Snapshot, out: *mut IntentBuf) -> c_int {
    match (bot.as_ref(), snap.as_ref()) {
        (Some(b), Some(s)) => guarded(|| on_tick_impl(b, s, out)),
        _ => BOT_ERROR,
    }
}

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static hydra_plugin_entry: Plugin = Plugin {
    abi: AbiVersion { major: ABI_MAJOR, minor: ABI_MINOR, patch: 0 },
    struct_size: size_of::<Plugin>() as u32,
    name: b"rust_sma\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"Example in Rust: SMA fast/slow crossover, long only, market orders\0".as_ptr() as *const c_char,
    asset_classes: ASSET_EQUITY,
    create: Some(create),
    destroy: Some(destroy),
    manage: Some(manage),
    on_tick: Some(on_tick),
    on_fill: None,
};

// ---- the layout probe (test build only: rustc --cfg hydra_layout_probe) ----

/// Runs a panicking body through the same guard as every callback: the
/// test checks that Debian's rustc unwinds to catch_unwind in a cdylib and
/// the host gets HYDRA_BOT_ERROR instead of an abort.
#[cfg(hydra_layout_probe)]
#[no_mangle]
pub extern "C" fn hydra_rust_guarded_panic() -> c_int {
    guarded(|| panic!("a panic the guard must catch"))
}

/// Offset of a field, without a value of the type (offset_of! is newer
/// than rustc 1.63). Used inside an unsafe fn: addr_of! takes the field's
/// address without reading it.
#[cfg(hydra_layout_probe)]
macro_rules! offset {
    ($t:ty, $f:ident) => {{
        let u = std::mem::MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        let field = ptr::addr_of!((*base).$f);
        (field as usize - base as usize) as u64
    }};
}

/// Writes the size of each ABI struct followed by its fields' offsets, in
/// the order tests/unit/test_rust_bot.c lists them, into out (up to cap
/// values). Returns how many values the full list has.
#[cfg(hydra_layout_probe)]
#[no_mangle]
pub unsafe extern "C" fn hydra_rust_layout(out: *mut u64, cap: u32) -> u32 {
    let v: Vec<u64> = vec![
        size_of::<AbiVersion>() as u64, offset!(AbiVersion, major), offset!(AbiVersion, minor), offset!(AbiVersion, patch),
        size_of::<Bar>() as u64, offset!(Bar, t_ms), offset!(Bar, open), offset!(Bar, high), offset!(Bar, low),
        offset!(Bar, close), offset!(Bar, volume),
        size_of::<SymbolView>() as u64, offset!(SymbolView, struct_size), offset!(SymbolView, asset_class),
        offset!(SymbolView, symbol), offset!(SymbolView, last_price), offset!(SymbolView, last_time_ms),
        offset!(SymbolView, bars), offset!(SymbolView, n_bars),
        size_of::<PositionView>() as u64, offset!(PositionView, struct_size), offset!(PositionView, asset_class),
        offset!(PositionView, symbol), offset!(PositionView, qty), offset!(PositionView, avg_entry_price),
        offset!(PositionView, current_price), offset!(PositionView, unrealized_pl), offset!(PositionView, opened_ms),
        size_of::<OptionView>() as u64, offset!(OptionView, struct_size), offset!(OptionView, is_call),
        offset!(OptionView, symbol), offset!(OptionView, underlying), offset!(OptionView, strike),
        offset!(OptionView, expiry_yyyymmdd), offset!(OptionView, dte), offset!(OptionView, bid),
        offset!(OptionView, ask), offset!(OptionView, iv), offset!(OptionView, delta), offset!(OptionView, multiplier),
        size_of::<BudgetView>() as u64, offset!(BudgetView, struct_size), offset!(BudgetView, max_daily_loss),
        offset!(BudgetView, max_open_risk), offset!(BudgetView, open_risk_used), offset!(BudgetView, realized_pnl_today),
        offset!(BudgetView, trades_left_today), offset!(BudgetView, positions_open),
        offset!(BudgetView, max_concurrent_positions), offset!(BudgetView, stop_loss_pct),
        size_of::<OrderView>() as u64, offset!(OrderView, struct_size), offset!(OrderView, kind), offset!(OrderView, side),
        offset!(OrderView, type_), offset!(OrderView, asset_class), offset!(OrderView, state),
        offset!(OrderView, client_order_id), offset!(OrderView, symbol), offset!(OrderView, qty),
        offset!(OrderView, filled_qty), offset!(OrderView, limit_price), offset!(OrderView, submitted_ms),
        size_of::<Snapshot>() as u64, offset!(Snapshot, struct_size), offset!(Snapshot, _reserved), offset!(Snapshot, tick),
        offset!(Snapshot, now_ms), offset!(Snapshot, local_date), offset!(Snapshot, local_minute),
        offset!(Snapshot, symbols), offset!(Snapshot, n_symbols), offset!(Snapshot, positions),
        offset!(Snapshot, n_positions), offset!(Snapshot, options), offset!(Snapshot, n_options),
        offset!(Snapshot, budget), offset!(Snapshot, orders), offset!(Snapshot, n_orders),
        size_of::<Intent>() as u64, offset!(Intent, struct_size), offset!(Intent, kind), offset!(Intent, side),
        offset!(Intent, type_), offset!(Intent, tif), offset!(Intent, asset_class), offset!(Intent, symbol),
        offset!(Intent, qty), offset!(Intent, notional), offset!(Intent, limit_price), offset!(Intent, reason),
        offset!(Intent, client_order_id),
        size_of::<IntentBuf>() as u64, offset!(IntentBuf, struct_size), offset!(IntentBuf, item_size),
        offset!(IntentBuf, capacity), offset!(IntentBuf, count), offset!(IntentBuf, items),
        size_of::<Fill>() as u64, offset!(Fill, struct_size), offset!(Fill, side), offset!(Fill, symbol),
        offset!(Fill, client_order_id), offset!(Fill, qty), offset!(Fill, price), offset!(Fill, t_ms),
        size_of::<HostApi>() as u64, offset!(HostApi, struct_size), offset!(HostApi, abi), offset!(HostApi, log),
        offset!(HostApi, state_get), offset!(HostApi, state_set), offset!(HostApi, param_double),
        offset!(HostApi, param_int), offset!(HostApi, param_bool), offset!(HostApi, param_string),
        offset!(HostApi, get_extension),
        size_of::<BotConfig>() as u64, offset!(BotConfig, struct_size), offset!(BotConfig, asset_classes),
        offset!(BotConfig, bot_id), offset!(BotConfig, signal_mode), offset!(BotConfig, symbols),
        offset!(BotConfig, n_symbols), offset!(BotConfig, default_tif), offset!(BotConfig, default_order_type),
        offset!(BotConfig, use_notional), offset!(BotConfig, default_notional_usd),
        size_of::<Plugin>() as u64, offset!(Plugin, abi), offset!(Plugin, struct_size), offset!(Plugin, name),
        offset!(Plugin, version), offset!(Plugin, description), offset!(Plugin, asset_classes),
        offset!(Plugin, create), offset!(Plugin, destroy), offset!(Plugin, manage), offset!(Plugin, on_tick),
        offset!(Plugin, on_fill),
    ];
    if !out.is_null() {
        for (i, x) in v.iter().take(cap as usize).enumerate() {
            *out.add(i) = *x;
        }
    }
    v.len() as u32
}
