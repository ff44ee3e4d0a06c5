//! claimline_x12: the compiled fast path of claimline's 835 reader.
//!
//! It reads only what it is sure about. The Python parser in `services/ingest/domain/remit835.py`
//! is the reference: this module walks the same segment structure and applies the same checks, and
//! the moment a file holds anything that parser would report as a problem (or anything this module
//! does not handle: non-ASCII bytes, unusual envelope order, amounts with more than six decimals,
//! negative zero, ...) it raises `Unsupported` and the caller reads the whole file with the Python
//! parser instead. So a file read here never has a problem to report, and no position is needed.
//!
//! `Scanner(path, element, component, terminator, start, emit)` iterates batches (lists) of records:
//!
//! * emit=False (pass one): one record per transaction set at its SE:
//!   `(ordinal, st_elements, isa13, gs06, gs08, header_segments, bpr02, claims_paid, plb_total,
//!   claims, lines)` where `header_segments` is every segment before the first CLP/PLB/LX as a list
//!   of strings (id first) and the sums are decimal strings with the exponent Python's `Decimal` sum
//!   would have. The Python side builds the remittance context from these with its own code.
//! * emit=True (pass two): `(0, ordinal)` at ST, `(1, claim)` per CLP loop, `(2, plb)` per PLB and
//!   `(3,)` at SE; see `claim_record` for the tuples (bench/parse_835.py's claimline-core row).
//! * emit=True with `kit` (pass two as the service runs it): the items themselves, exactly those
//!   of the Python parser (RemitLine, ProviderAdjustment, RemittanceRead); see `Kit`.
//! * emit=True with `tables=True` (`remit835.read_835_tables`): `Tables` batches, columns of whole
//!   claims (services, claims, adjustments, extras, provider_adjustments, transactions) in flat
//!   buffers, with no Python object per value until a column is asked for; see `Cols`. Its pass one
//!   runs with `check_claims=False` (envelopes, headers and totals only) and pass two checks every
//!   claim as it goes, raising `Unsupported` at the first one it cannot vouch for.
//!
//! Amounts are handed over as the exact strings of the file (Python makes the `Decimal`); imbalances
//! are computed here on scaled integers (exact) and handed over as decimal strings.

#![allow(unexpected_cfgs)] // pyo3 0.22 `create_exception!` names a cfg newer rustc does not know

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::intern;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom};

create_exception!(claimline_x12, Unsupported, PyValueError);

type R<T> = Result<T, String>;

const CHUNK: usize = 1 << 20;
const SCALE: u32 = 6;
const MONEY_LIMIT: i128 = 1_000_000_000_000 * 1_000_000; // 10**12 at scale 6
const SUPPORTED_835: [&[u8]; 4] = [b"005010X221A1", b"005010X221", b"004010X091A1", b"004010X091"];
const BATCH: usize = 512;

fn no<T>(why: &str) -> R<T> {
    Err(why.to_string())
}

// ------------------------------------------------------------------------------------ values

/// An amount as a scaled integer (6 decimals) plus the number of decimals it was written with,
/// which is what Python's `Decimal` keeps as the exponent.
#[derive(Clone, Copy, Default)]
struct Dec {
    v: i128,
    frac: u32,
}

impl Dec {
    fn add(self, o: Dec) -> Dec {
        Dec { v: self.v + o.v, frac: self.frac.max(o.frac) }
    }
    fn sub(self, o: Dec) -> Dec {
        Dec { v: self.v - o.v, frac: self.frac.max(o.frac) }
    }
    fn render(&self) -> String {
        let a = self.v.unsigned_abs() / 10u128.pow(SCALE - self.frac);
        let p = 10u128.pow(self.frac);
        let mut s = String::new();
        if self.v < 0 {
            s.push('-');
        }
        s.push_str(&(a / p).to_string());
        if self.frac > 0 {
            s.push('.');
            s.push_str(&format!("{:0w$}", a % p, w = self.frac as usize));
        }
        s
    }
}

fn all_digits(s: &[u8]) -> bool {
    s.iter().all(|c| c.is_ascii_digit())
}

/// An X12 R amount as `remit835._number` reads it (optional minus, at most 15 digits, optional
/// point, 18 characters at most), within what `Money` accepts (below 10**12), and within what this
/// module handles exactly (at most 6 decimals, no negative zero). Anything else: not sure.
/// One pass over the bytes; `amount_reference` below is the same rule written plainly, and the
/// unit tests check both agree.
fn amount(s: &[u8]) -> R<Dec> {
    if s.is_empty() || s.len() > 18 {
        return no("amount empty or too long");
    }
    let neg = s[0] == b'-';
    let body = if neg { &s[1..] } else { s };
    let mut v: i64 = 0; // at most 12 significant + 6 decimal digits: below 10**18, fits
    let mut int_digits = 0usize;
    let mut significant = 0usize;
    let mut frac_digits = 0usize;
    let mut point = false;
    for &c in body {
        match c {
            b'0'..=b'9' => {
                if point {
                    frac_digits += 1;
                    if frac_digits > SCALE as usize {
                        // more decimals than handled, unless the rest is not a number at all
                        return if body.iter().skip_while(|&&x| x != b'.').skip(1).all(u8::is_ascii_digit) {
                            no("amount has more decimals than the fast path handles")
                        } else {
                            no("amount is not a number")
                        };
                    }
                } else {
                    int_digits += 1;
                    if significant > 0 || c != b'0' {
                        significant += 1;
                    }
                    if significant > 12 {
                        return if int_digits > 15 || body.iter().any(|x| !x.is_ascii_digit() && *x != b'.') {
                            no("amount is not a number")
                        } else {
                            no("amount beyond the money limit")
                        };
                    }
                }
                v = v * 10 + (c - b'0') as i64;
            }
            b'.' if !point => point = true,
            _ => return no("amount is not a number"),
        }
    }
    if int_digits == 0 {
        if !point || frac_digits == 0 {
            return no("amount is not a number");
        }
    } else if int_digits > 15 {
        return no("amount has too many digits");
    }
    for _ in frac_digits..SCALE as usize {
        v *= 10;
    }
    if neg && v == 0 {
        return no("negative zero");
    }
    Ok(Dec { v: if neg { -(v as i128) } else { v as i128 }, frac: frac_digits as u32 })
}

/// The rule `amount` implements, written plainly (tests only).
#[cfg(test)]
fn amount_reference(s: &[u8]) -> R<Dec> {
    if s.is_empty() || s.len() > 18 {
        return no("amount empty or too long");
    }
    let (neg, body) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    let (ip, fp) = match body.iter().position(|&c| c == b'.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &body[body.len()..]),
    };
    let has_point = ip.len() != body.len();
    if !all_digits(ip) || !all_digits(fp) {
        return no("amount is not a number");
    }
    if ip.is_empty() {
        if !has_point || fp.is_empty() || fp.len() > 15 {
            return no("amount is not a number");
        }
    } else if ip.len() > 15 {
        return no("amount has too many digits");
    }
    if fp.len() > SCALE as usize {
        return no("amount has more decimals than the fast path handles");
    }
    let sig = ip.iter().skip_while(|&&c| c == b'0').count();
    if sig > 12 {
        return no("amount beyond the money limit");
    }
    let mut v: i128 = 0;
    for &c in ip {
        v = v * 10 + (c - b'0') as i128;
    }
    for i in 0..SCALE as usize {
        v = v * 10 + if i < fp.len() { (fp[i] - b'0') as i128 } else { 0 };
    }
    if neg && v == 0 {
        return no("negative zero");
    }
    Ok(Dec { v: if neg { -v } else { v }, frac: fp.len() as u32 })
}

fn optional_amount(s: &[u8]) -> R<()> {
    if !s.is_empty() {
        amount(s)?;
    }
    Ok(())
}

/// CCYYMMDD that Python's `date` accepts; empty is allowed (no date).
fn date(s: &[u8]) -> R<()> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() != 8 || !all_digits(s) {
        return no("not a date");
    }
    let n = |a: usize, b: usize| s[a..b].iter().fold(0u32, |acc, c| acc * 10 + (c - b'0') as u32);
    let (y, m, d) = (n(0, 4), n(4, 6), n(6, 8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return no("not a date"),
    };
    if y < 1 || d < 1 || d > days {
        return no("not a date");
    }
    Ok(())
}

fn alnum(s: &[u8], min: usize, max: usize) -> bool {
    s.len() >= min && s.len() <= max && s.iter().all(|c| c.is_ascii_alphanumeric())
}

fn upper_digits(s: &[u8], min: usize, max: usize) -> bool {
    s.len() >= min && s.len() <= max && s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// RARC: ^[A-Z]{1,2}[0-9]{1,5}$
fn remark(s: &[u8]) -> R<()> {
    let letters = s.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let digits = s.len() - letters;
    if (1..=2).contains(&letters) && (1..=5).contains(&digits) && all_digits(&s[letters..]) {
        Ok(())
    } else {
        no("not a remark code")
    }
}

/// Segment id: ^[A-Z][A-Z0-9]{1,2}$
fn segment_id_ok(s: &[u8]) -> bool {
    (2..=3).contains(&s.len()) && s[0].is_ascii_uppercase() && upper_digits(&s[1..], 1, 2)
}

fn get<'a>(els: &[&'a [u8]], i: usize) -> &'a [u8] {
    if i < els.len() {
        els[i]
    } else {
        b""
    }
}

fn strip(s: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b'\r' | b'\n' | b'\t' | b' ');
    let a = s.iter().position(|c| !ws(c)).unwrap_or(s.len());
    let b = s.iter().rposition(|c| !ws(c)).map_or(a, |i| i + 1);
    &s[a..b]
}

fn split<'a>(seg: &'a [u8], sep: u8, out: &mut Vec<&'a [u8]>) {
    let mut start = 0;
    for i in memchr::memchr_iter(sep, seg) {
        out.push(&seg[start..i]);
        start = i + 1;
    }
    out.push(&seg[start..]);
}

// ------------------------------------------------------------------------------------ claims

struct Adj<'a> {
    group: &'a [u8],
    reason: &'a [u8],
    amount: &'a [u8],
    quantity: &'a [u8],
    value: Dec,
    count: Option<Dec>,
}

fn opt_amount(s: &[u8]) -> R<Option<Dec>> {
    if s.is_empty() {
        Ok(None)
    } else {
        amount(s).map(Some)
    }
}

/// CAS, as `remit835._adjustments` reads it. Returns the sum of its amounts.
fn adjustments<'a>(els: &[&'a [u8]], out: &mut Vec<Adj<'a>>) -> R<Dec> {
    let group = get(els, 1);
    if !matches!(group, b"CO" | b"PR" | b"OA" | b"PI" | b"CR") {
        return no("CAS01 group");
    }
    let mut sum = Dec::default();
    for first in (2..20).step_by(3) {
        let reason = get(els, first);
        if reason.is_empty() {
            continue;
        }
        let a = amount(get(els, first + 1))?;
        let count = opt_amount(get(els, first + 2))?;
        if !upper_digits(reason, 1, 5) {
            return no("CARC");
        }
        sum = sum.add(a);
        out.push(Adj { group, reason, amount: get(els, first + 1), quantity: get(els, first + 2), value: a, count });
    }
    Ok(sum)
}

/// Up to four modifiers, inline (no allocation per service line).
#[derive(Clone, Copy, Default)]
struct Mods<'a> {
    v: [&'a [u8]; 4],
    n: usize,
}

impl<'a> std::ops::Deref for Mods<'a> {
    type Target = [&'a [u8]];
    fn deref(&self) -> &[&'a [u8]] {
        &self.v[..self.n]
    }
}

struct Procedure<'a> {
    qualifier: &'a [u8],
    code: &'a [u8],
    modifiers: Mods<'a>,
}

/// SVC01/SVC06 composite, as `remit835._procedure` reads it (including the fallback for senders
/// that use another component separator than ISA16 says).
fn procedure(value: &[u8], component: u8) -> R<Procedure<'_>> {
    let mut sep = component;
    if !value.contains(&component)
        && value.len() >= 4
        && upper_digits(&value[..2], 2, 2)
        && matches!(value[2], b'>' | b':' | b'^' | b'|')
        && !matches!(value[3], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f | 0x85)
    {
        sep = value[2];
    }
    let mut parts = value.split(|&c| c == sep);
    let qualifier = parts.next().unwrap_or(b"");
    let code = match parts.next() {
        Some(c) if !c.is_empty() => c,
        _ => return no("not a procedure composite"),
    };
    if !alnum(code, 1, 48) {
        return no("procedure code");
    }
    let mut modifiers = Mods::default();
    for m in parts.take(4) {
        if m.is_empty() {
            continue;
        }
        if !alnum(m, 2, 2) {
            return no("modifier");
        }
        modifiers.v[modifiers.n] = m;
        modifiers.n += 1;
    }
    Ok(Procedure { qualifier, code, modifiers })
}

struct Line<'a> {
    svc: Procedure<'a>,
    submitted: Option<Procedure<'a>>,
    els: &'a [&'a [u8]],
    service_date: &'a [u8],
    service_date_end: &'a [u8],
    line_control: &'a [u8],
    allowed: &'a [u8],
    amounts: Vec<(&'a [u8], &'a [u8])>,
    refs: Vec<(&'a [u8], &'a [u8])>,
    adjustments: Vec<Adj<'a>>,
    remarks: Vec<&'a [u8]>,
    adjusted: Dec,
    found: Option<Dec>,
    charge: Dec,
    paid: Dec,
    units_paid: Option<Dec>,
    original_units: Option<Dec>,
    allowed_value: Option<Dec>,
}

#[derive(Default)]
struct Claim<'a> {
    clp: &'a [&'a [u8]],
    people: [Option<&'a [&'a [u8]]>; 3], // QC, IL, 74
    rendering: Option<&'a [&'a [u8]]>,
    rendering_npi: Option<&'a [u8]>,
    dates: [Option<&'a [u8]>; 3], // 232, 233, 050
    remarks: Vec<&'a [u8]>,
    amounts: Vec<(&'a [u8], &'a [u8])>,
    quantities: Vec<(&'a [u8], &'a [u8])>,
    refs: Vec<(&'a [u8], &'a [u8])>,
    adjustments: Vec<Adj<'a>>,
    lines: Vec<Line<'a>>,
    paid: Dec,
    found: Option<Dec>,
}

fn imbalance(found: Dec, expected: Dec) -> R<Option<Dec>> {
    if found.v == expected.v {
        return Ok(None);
    }
    if found.v.abs() >= MONEY_LIMIT {
        return no("imbalance beyond the money limit");
    }
    Ok(Some(found))
}

/// One CLP loop, as `remit835.read_claim` reads it; `segs` are the element lists of its segments.
fn read_claim<'a>(segs: &[&'a [&'a [u8]]], component: u8) -> R<Claim<'a>> {
    let clp: &'a [&'a [u8]] = segs[0];
    if get(clp, 1).is_empty() || get(clp, 2).is_empty() {
        return no("CLP01/CLP02 required");
    }
    let charge = amount(get(clp, 3))?;
    let paid = amount(get(clp, 4))?;
    optional_amount(get(clp, 5))?;
    let mut c = Claim { clp, paid, ..Default::default() };
    let mut claim_adjusted = Dec::default();
    for &els in &segs[1..] {
        let id = els[0];
        if id == b"SVC" {
            let svc = procedure(get(els, 1), component)?;
            let submitted =
                if get(els, 6).is_empty() { None } else { Some(procedure(get(els, 6), component)?) };
            let charge = amount(get(els, 2))?;
            let paid = amount(get(els, 3))?;
            let units_paid = opt_amount(get(els, 5))?;
            let original_units = opt_amount(get(els, 7))?;
            c.lines.push(Line {
                svc,
                submitted,
                els,
                service_date: b"",
                service_date_end: b"",
                line_control: b"",
                allowed: b"",
                amounts: Vec::new(),
                refs: Vec::new(),
                adjustments: Vec::new(),
                remarks: Vec::new(),
                adjusted: Dec::default(),
                found: None,
                charge,
                paid,
                units_paid,
                original_units,
                allowed_value: None,
            });
        } else if let Some(line) = c.lines.last_mut() {
            match id {
                b"CAS" => {
                    let s = adjustments(els, &mut line.adjustments)?;
                    line.adjusted = line.adjusted.add(s);
                }
                b"DTM" => match get(els, 1) {
                    b"472" | b"150" => {
                        date(get(els, 2))?;
                        line.service_date = get(els, 2);
                    }
                    b"151" => {
                        date(get(els, 2))?;
                        line.service_date_end = get(els, 2);
                    }
                    _ => {}
                },
                b"REF" => {
                    if get(els, 1) == b"6R" {
                        line.line_control = get(els, 2);
                    } else if !get(els, 1).is_empty() {
                        line.refs.push((get(els, 1), get(els, 2)));
                    }
                }
                b"AMT" => {
                    let value = amount(get(els, 2))?;
                    line.amounts.push((get(els, 1), get(els, 2)));
                    if get(els, 1) == b"B6" {
                        line.allowed = get(els, 2);
                        line.allowed_value = Some(value);
                    }
                }
                b"LQ" if get(els, 1) == b"HE" => {
                    remark(get(els, 2))?;
                    line.remarks.push(get(els, 2));
                }
                _ => {}
            }
        } else {
            match id {
                b"CAS" => {
                    let s = adjustments(els, &mut c.adjustments)?;
                    claim_adjusted = claim_adjusted.add(s);
                }
                b"NM1" => match get(els, 1) {
                    b"QC" => c.people[0] = Some(els),
                    b"IL" => c.people[1] = Some(els),
                    b"74" => c.people[2] = Some(els),
                    b"82" => {
                        c.rendering = Some(els);
                        if get(els, 8) == b"XX" {
                            c.rendering_npi = Some(get(els, 9));
                        }
                    }
                    _ => {}
                },
                b"MOA" | b"MIA" => {
                    let at: &[usize] = if id == b"MOA" { &[3, 4, 5, 6, 7] } else { &[5, 20, 21, 22, 23] };
                    for &i in at {
                        if !get(els, i).is_empty() {
                            remark(get(els, i))?;
                            c.remarks.push(get(els, i));
                        }
                    }
                }
                b"DTM" => {
                    let slot = match get(els, 1) {
                        b"232" => Some(0),
                        b"233" => Some(1),
                        b"050" => Some(2),
                        _ => None,
                    };
                    if let Some(k) = slot {
                        date(get(els, 2))?;
                        c.dates[k] = Some(get(els, 2));
                    }
                }
                b"AMT" => {
                    amount(get(els, 2))?;
                    c.amounts.push((get(els, 1), get(els, 2)));
                }
                b"QTY" => {
                    amount(get(els, 2))?;
                    c.quantities.push((get(els, 1), get(els, 2)));
                }
                b"REF" if !get(els, 1).is_empty() => c.refs.push((get(els, 1), get(els, 2))),
                _ => {}
            }
        }
    }
    if c.lines.is_empty() {
        return no("claim without service lines");
    }
    let mut found = charge.sub(claim_adjusted);
    for line in c.lines.iter_mut() {
        line.found = imbalance(line.charge.sub(line.adjusted), line.paid)?;
        found = found.sub(line.adjusted);
    }
    c.found = imbalance(found, paid)?;
    Ok(c)
}

// ------------------------------------------------------------------------------------ to Python

/// FxHash: short keys, no need for SipHash's protection here (the cache is bounded and per thread).
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

const INTERN_MAX_LEN: usize = 16;
const INTERN_MAX_ENTRIES: usize = 1 << 16;

thread_local! {
    /// Short values repeat all through a remittance (codes, qualifiers, dates, amounts): one Python
    /// string each, so Python allocates less and its dict lookups find the hash already computed.
    static INTERNED: RefCell<HashMap<Vec<u8>, Py<PyString>, BuildHasherDefault<Fx>>> =
        RefCell::new(HashMap::default());
}

fn s<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    // Every byte was checked to be ASCII when it was read.
    let text = unsafe { std::str::from_utf8_unchecked(b) };
    if b.len() > INTERN_MAX_LEN {
        return PyString::new_bound(py, text);
    }
    INTERNED.with(|cell| {
        let mut map = cell.borrow_mut();
        if let Some(found) = map.get(b) {
            return found.bind(py).clone();
        }
        if map.len() >= INTERN_MAX_ENTRIES {
            map.clear();
        }
        let made = PyString::new_bound(py, text);
        map.insert(b.to_vec(), made.clone().unbind());
        made
    })
}

fn opt<'py>(py: Python<'py>, b: Option<&[u8]>) -> PyObject {
    match b {
        Some(v) => s(py, v).into_any().unbind(),
        None => py.None(),
    }
}

fn strs(py: Python<'_>, v: &[&[u8]]) -> PyObject {
    PyTuple::new_bound(py, v.iter().map(|b| s(py, b))).into_any().unbind()
}

fn pairs(py: Python<'_>, v: &[(&[u8], &[u8])]) -> PyObject {
    PyList::new_bound(py, v.iter().map(|(k, x)| (s(py, k), s(py, x)))).into_any().unbind()
}

fn adjs(py: Python<'_>, v: &[Adj]) -> PyObject {
    PyList::new_bound(
        py,
        v.iter().map(|a| (s(py, a.group), s(py, a.reason), s(py, a.amount), s(py, a.quantity))),
    )
    .into_any()
    .unbind()
}

fn found(py: Python<'_>, f: Option<Dec>) -> PyObject {
    match f {
        Some(d) => d.render().into_py(py),
        None => py.None(),
    }
}

fn person(py: Python<'_>, els: Option<&[&[u8]]>) -> PyObject {
    match els {
        Some(e) => (s(py, get(e, 3)), s(py, get(e, 4)), s(py, get(e, 9))).into_py(py),
        None => py.None(),
    }
}

/// `(clp_elements, patient, insured, corrected_patient, rendering (NM1*82 04, 03) or None,
///   rendering_npi or None, (statement_from, statement_to, received_date) each None when absent,
///   remarks, amounts, quantities, refs, adjustments, found or None, lines)`
/// with each line `(qualifier, code, modifiers, submitted (code, modifiers) or None, svc_elements,
///   service_date, service_date_end, line_control, allowed, amounts, refs, adjustments, remarks,
///   found or None)`.
fn claim_record(py: Python<'_>, c: &Claim) -> PyObject {
    let lines: Vec<PyObject> = c
        .lines
        .iter()
        .map(|l| {
            let sub = match &l.submitted {
                Some(p) => (s(py, p.code), strs(py, &p.modifiers)).into_py(py),
                None => py.None(),
            };
            let items: [PyObject; 14] = [
                s(py, l.svc.qualifier).into_any().unbind(),
                s(py, l.svc.code).into_any().unbind(),
                strs(py, &l.svc.modifiers),
                sub,
                strs(py, &l.els[..l.els.len().min(8)]),
                s(py, l.service_date).into_any().unbind(),
                s(py, l.service_date_end).into_any().unbind(),
                s(py, l.line_control).into_any().unbind(),
                s(py, l.allowed).into_any().unbind(),
                pairs(py, &l.amounts),
                pairs(py, &l.refs),
                adjs(py, &l.adjustments),
                strs(py, &l.remarks),
                found(py, l.found),
            ];
            PyTuple::new_bound(py, items).into_any().unbind()
        })
        .collect();
    let rendering = match c.rendering {
        Some(e) => (s(py, get(e, 4)), s(py, get(e, 3))).into_py(py),
        None => py.None(),
    };
    let items: [PyObject; 14] = [
        strs(py, &c.clp[..c.clp.len().min(10)]),
        person(py, c.people[0]),
        person(py, c.people[1]),
        person(py, c.people[2]),
        rendering,
        opt(py, c.rendering_npi),
        (opt(py, c.dates[0]), opt(py, c.dates[1]), opt(py, c.dates[2])).into_py(py),
        strs(py, &c.remarks),
        pairs(py, &c.amounts),
        pairs(py, &c.quantities),
        pairs(py, &c.refs),
        adjs(py, &c.adjustments),
        found(py, c.found),
        PyList::new_bound(py, lines).into_any().unbind(),
    ];
    PyTuple::new_bound(py, items).into_any().unbind()
}

/// A PLB, as `remit835._provider_adjustments` reads it: `(provider_id, period, [(reason, reference,
/// amount), ...])`. Also adds PLB04..PLB14 to `total` the way `scan_totals` does.
fn read_plb<'a>(els: &[&'a [u8]], component: u8, total: &mut Dec) -> R<Vec<(&'a [u8], &'a [u8], &'a [u8])>> {
    date(get(els, 2))?;
    let mut out = Vec::new();
    for first in (3..15).step_by(2) {
        let raw = get(els, first);
        if raw.is_empty() {
            continue;
        }
        let (reason, reference) = match raw.iter().position(|&c| c == component) {
            Some(i) => (&raw[..i], &raw[i + 1..]),
            None => (raw, &raw[raw.len()..]),
        };
        if !upper_digits(reason, 2, 2) {
            return no("PLB reason");
        }
        amount(get(els, first + 1))?;
        out.push((reason, reference, get(els, first + 1)));
    }
    for position in (4..15).step_by(2) {
        let raw = get(els, position);
        if !raw.is_empty() {
            let a = amount(raw)?;
            if a.v != 0 {
                *total = total.add(a);
            }
        }
    }
    Ok(out)
}


// ------------------------------------------------------------------------------------ items

/// What pass two needs to build the Python parser's items itself: the model classes, `Decimal`,
/// `date`, the shared fields sets, the contexts of pass one. Given by `remit835._NativeBuilder.kit`.
struct Kit {
    contexts: PyObject,
    service_line: PyObject,
    brief: PyObject,
    adjustment: PyObject,
    imbalance: PyObject,
    person: PyObject,
    claim: PyObject,
    remit_line: PyObject,
    provider_adjustment: PyObject,
    remittance_read: PyObject,
    decimal: PyObject,
    date: PyObject,
    line_fields: PyObject,
    brief_fields: PyObject,
    adjustment_fields: PyObject,
    person_fields: PyObject,
    imbalance_fields: PyObject,
    one: PyObject,
    object_new: PyObject,
}

#[derive(Default)]
struct Built {
    context: Option<PyObject>,
    context_holds: bool,
    claims: u64,
    lines: u64,
    plb: u64,
    last_reversal: Option<Vec<u8>>,
    decimals: HashMap<Vec<u8>, PyObject, BuildHasherDefault<Fx>>,
    dates: HashMap<Vec<u8>, PyObject, BuildHasherDefault<Fx>>,
}

const CLAIM_ALWAYS: [&str; 17] = [
    "patient_control_number",
    "status_code",
    "charge",
    "paid",
    "patient_responsibility",
    "payer_claim_control_number",
    "filing_indicator",
    "facility_code",
    "frequency_code",
    "patient",
    "remarks",
    "amounts",
    "quantities",
    "refs",
    "adjustments",
    "imbalance",
    "lines",
];

fn set_generic(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    // object.__setattr__: the frozen models' own __setattr__ refuses, as it should for everyone else.
    let r = unsafe { pyo3::ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) };
    if r < 0 {
        Err(PyErr::fetch(obj.py()))
    } else {
        Ok(())
    }
}

impl Kit {
    /// A model from values already checked, as `remit835._fast` makes it.
    fn model<'py>(
        &self,
        py: Python<'py>,
        cls: &PyObject,
        values: Bound<'py, PyDict>,
        fields: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let obj = self.object_new.bind(py).call1((cls.bind(py),))?;
        set_generic(&obj, intern!(py, "__dict__"), values.as_any())?;
        set_generic(&obj, intern!(py, "__pydantic_fields_set__"), fields)?;
        let none = py.None().into_bound(py);
        set_generic(&obj, intern!(py, "__pydantic_extra__"), &none)?;
        set_generic(&obj, intern!(py, "__pydantic_private__"), &none)?;
        Ok(obj)
    }
}

impl Built {
    fn decimal<'py>(&mut self, py: Python<'py>, kit: &Kit, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = self.decimals.get(raw) {
            return Ok(v.bind(py).clone());
        }
        if self.decimals.len() > 100_000 {
            self.decimals.clear();
        }
        let v = kit.decimal.bind(py).call1((s(py, raw),))?;
        self.decimals.insert(raw.to_vec(), v.clone().unbind());
        Ok(v)
    }

    fn decimal_opt<'py>(&mut self, py: Python<'py>, kit: &Kit, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if raw.is_empty() {
            Ok(py.None().into_bound(py))
        } else {
            self.decimal(py, kit, raw)
        }
    }

    fn date<'py>(&mut self, py: Python<'py>, kit: &Kit, raw: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if raw.is_empty() {
            return Ok(py.None().into_bound(py));
        }
        if let Some(v) = self.dates.get(raw) {
            return Ok(v.bind(py).clone());
        }
        if self.dates.len() > 100_000 {
            self.dates.clear();
        }
        let n = |a: usize, b: usize| raw[a..b].iter().fold(0u32, |acc, c| acc * 10 + (c - b'0') as u32);
        let v = kit.date.bind(py).call1((n(0, 4), n(4, 6), n(6, 8)))?;
        self.dates.insert(raw.to_vec(), v.clone().unbind());
        Ok(v)
    }

    fn adjustments<'py>(&mut self, py: Python<'py>, kit: &Kit, adjs: &[Adj]) -> PyResult<Bound<'py, PyTuple>> {
        let mut out = Vec::with_capacity(adjs.len());
        for a in adjs {
            let d = PyDict::new_bound(py);
            d.set_item(intern!(py, "group"), s(py, a.group))?;
            d.set_item(intern!(py, "reason"), s(py, a.reason))?;
            d.set_item(intern!(py, "amount"), self.decimal(py, kit, a.amount)?)?;
            d.set_item(intern!(py, "quantity"), self.decimal_opt(py, kit, a.quantity)?)?;
            out.push(kit.model(py, &kit.adjustment, d, kit.adjustment_fields.bind(py))?);
        }
        Ok(PyTuple::new_bound(py, out))
    }

    fn imbalance<'py>(
        &mut self,
        py: Python<'py>,
        kit: &Kit,
        level: &str,
        rule: &str,
        expected: &Bound<'py, PyAny>,
        found: Option<Dec>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(found) = found else { return Ok(py.None().into_bound(py)) };
        let d = PyDict::new_bound(py);
        d.set_item(intern!(py, "level"), level)?;
        d.set_item(intern!(py, "rule"), rule)?;
        d.set_item(intern!(py, "expected"), expected)?;
        d.set_item(intern!(py, "found"), self.decimal(py, kit, found.render().as_bytes())?)?;
        kit.model(py, &kit.imbalance, d, kit.imbalance_fields.bind(py))
    }

    fn person<'py>(&self, py: Python<'py>, kit: &Kit, els: Option<&[&[u8]]>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(e) = els else { return Ok(None) };
        let d = PyDict::new_bound(py);
        for (key, i) in [(intern!(py, "last_name"), 3), (intern!(py, "first_name"), 4), (intern!(py, "member_id"), 9)] {
            let v = get(e, i);
            if v.is_empty() {
                d.set_item(key, py.None())?;
            } else {
                d.set_item(key, s(py, v))?;
            }
        }
        Ok(Some(kit.model(py, &kit.person, d, kit.person_fields.bind(py))?))
    }

    fn pairs_dict<'py>(
        &mut self,
        py: Python<'py>,
        kit: &Kit,
        pairs: &[(&[u8], &[u8])],
        amounts: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new_bound(py);
        for (k, v) in pairs {
            if amounts {
                d.set_item(s(py, k), self.decimal(py, kit, v)?)?;
            } else {
                d.set_item(s(py, k), s(py, v))?;
            }
        }
        Ok(d)
    }

    /// One claim's RemitLine items, exactly as `_NativeBuilder.claim` (and so `read_claim` and
    /// `_close_claim`) make them.
    fn claim(&mut self, py: Python<'_>, kit: &Kit, c: &Claim, out: &mut Vec<PyObject>) -> PyResult<()> {
        let context = match &self.context {
            Some(ctx) => ctx.clone_ref(py),
            None => return Err(PyValueError::new_err("claim outside a transaction set")),
        };
        let none = py.None().into_bound(py);
        let mut lines = Vec::with_capacity(c.lines.len());
        let mut briefs = Vec::with_capacity(c.lines.len());
        for (i, l) in c.lines.iter().enumerate() {
            let number = i + 1;
            let charge = self.decimal(py, kit, get(l.els, 2))?;
            let paid = self.decimal(py, kit, get(l.els, 3))?;
            let units_paid = self.decimal_opt(py, kit, get(l.els, 5))?;
            let original = self.decimal_opt(py, kit, get(l.els, 7))?;
            let paid_units_truthy = !get(l.els, 5).is_empty() && amount(get(l.els, 5)).map_or(false, |d| d.v != 0);
            let units_billed = if !original.is_none() {
                original
            } else if paid_units_truthy {
                units_paid.clone()
            } else {
                kit.one.bind(py).clone()
            };
            let units_paid = if units_paid.is_none() { kit.one.bind(py).clone() } else { units_paid };
            let served = self.date(py, kit, l.service_date)?;
            let modifiers = PyTuple::new_bound(py, l.svc.modifiers.iter().map(|m| s(py, m)));
            let d = PyDict::new_bound(py);
            d.set_item(intern!(py, "line_number"), number)?;
            d.set_item(intern!(py, "qualifier"), s(py, l.svc.qualifier))?;
            d.set_item(intern!(py, "procedure_code"), s(py, l.svc.code))?;
            d.set_item(intern!(py, "modifiers"), &modifiers)?;
            match &l.submitted {
                Some(p) => {
                    d.set_item(intern!(py, "submitted_procedure_code"), s(py, p.code))?;
                    d.set_item(
                        intern!(py, "submitted_modifiers"),
                        PyTuple::new_bound(py, p.modifiers.iter().map(|m| s(py, m))),
                    )?;
                }
                None => {
                    d.set_item(intern!(py, "submitted_procedure_code"), &none)?;
                    d.set_item(intern!(py, "submitted_modifiers"), PyTuple::empty_bound(py))?;
                }
            }
            d.set_item(intern!(py, "charge"), &charge)?;
            d.set_item(intern!(py, "paid"), &paid)?;
            d.set_item(intern!(py, "units_billed"), &units_billed)?;
            d.set_item(intern!(py, "units_paid"), &units_paid)?;
            d.set_item(intern!(py, "service_date"), &served)?;
            d.set_item(intern!(py, "service_date_end"), self.date(py, kit, l.service_date_end)?)?;
            if l.line_control.is_empty() {
                d.set_item(intern!(py, "line_control_number"), &none)?;
            } else {
                d.set_item(intern!(py, "line_control_number"), s(py, l.line_control))?;
            }
            d.set_item(intern!(py, "allowed"), self.decimal_opt(py, kit, l.allowed)?)?;
            d.set_item(intern!(py, "amounts"), self.pairs_dict(py, kit, &l.amounts, true)?)?;
            d.set_item(intern!(py, "refs"), self.pairs_dict(py, kit, &l.refs, false)?)?;
            d.set_item(intern!(py, "adjustments"), self.adjustments(py, kit, &l.adjustments)?)?;
            d.set_item(intern!(py, "remarks"), PyTuple::new_bound(py, l.remarks.iter().map(|r| s(py, r))))?;
            let imbalance = self.imbalance(py, kit, "line", "SVC02 - sum of line CAS = SVC03", &paid, l.found)?;
            d.set_item(intern!(py, "imbalance"), &imbalance)?;
            let line = kit.model(py, &kit.service_line, d, kit.line_fields.bind(py))?;
            let b = PyDict::new_bound(py);
            b.set_item(intern!(py, "line_number"), number)?;
            b.set_item(intern!(py, "procedure_code"), s(py, l.svc.code))?;
            b.set_item(intern!(py, "modifiers"), &modifiers)?;
            b.set_item(intern!(py, "units"), &units_billed)?;
            b.set_item(intern!(py, "charge"), &charge)?;
            b.set_item(intern!(py, "paid"), &paid)?;
            b.set_item(intern!(py, "service_date"), &served)?;
            briefs.push(kit.model(py, &kit.brief, b, kit.brief_fields.bind(py))?);
            lines.push((line, l.found.is_some()));
        }
        let clp = c.clp;
        let fields = PySet::empty_bound(py)?;
        for name in CLAIM_ALWAYS {
            fields.add(PyString::intern_bound(py, name))?;
        }
        let text_or_none = |v: &[u8]| -> PyObject {
            if v.is_empty() {
                py.None()
            } else {
                s(py, v).into_any().unbind()
            }
        };
        let pcn = get(clp, 1);
        let status = get(clp, 2);
        let paid = self.decimal(py, kit, get(clp, 4))?;
        let patient = match self.person(py, kit, c.people[0])? {
            Some(p) => p,
            None => {
                let d = PyDict::new_bound(py);
                d.set_item(intern!(py, "last_name"), &none)?;
                d.set_item(intern!(py, "first_name"), &none)?;
                d.set_item(intern!(py, "member_id"), &none)?;
                kit.model(py, &kit.person, d, PySet::empty_bound(py)?.as_any())?
            }
        };
        let insured = self.person(py, kit, c.people[1])?;
        let patient = match &insured {
            Some(ins) if patient.getattr(intern!(py, "member_id"))?.is_none() => {
                let d = PyDict::new_bound(py);
                d.set_item(intern!(py, "last_name"), patient.getattr(intern!(py, "last_name"))?)?;
                d.set_item(intern!(py, "first_name"), patient.getattr(intern!(py, "first_name"))?)?;
                d.set_item(intern!(py, "member_id"), ins.getattr(intern!(py, "member_id"))?)?;
                kit.model(py, &kit.person, d, kit.person_fields.bind(py))?
            }
            _ => patient,
        };
        let d = PyDict::new_bound(py);
        d.set_item(intern!(py, "patient_control_number"), s(py, pcn))?;
        d.set_item(intern!(py, "status_code"), s(py, status))?;
        d.set_item(intern!(py, "charge"), self.decimal(py, kit, get(clp, 3))?)?;
        d.set_item(intern!(py, "paid"), &paid)?;
        d.set_item(intern!(py, "patient_responsibility"), self.decimal_opt(py, kit, get(clp, 5))?)?;
        d.set_item(intern!(py, "payer_claim_control_number"), text_or_none(get(clp, 7)))?;
        d.set_item(intern!(py, "filing_indicator"), text_or_none(get(clp, 6)))?;
        d.set_item(intern!(py, "patient"), &patient)?;
        match &insured {
            Some(ins) => {
                d.set_item(intern!(py, "insured"), ins)?;
                fields.add(intern!(py, "insured"))?;
            }
            None => d.set_item(intern!(py, "insured"), &none)?,
        }
        match self.person(py, kit, c.people[2])? {
            Some(p) => {
                d.set_item(intern!(py, "corrected_patient"), p)?;
                fields.add(intern!(py, "corrected_patient"))?;
            }
            None => d.set_item(intern!(py, "corrected_patient"), &none)?,
        }
        match c.rendering_npi {
            Some(npi) => {
                d.set_item(intern!(py, "rendering_npi"), text_or_none(npi))?;
                fields.add(intern!(py, "rendering_npi"))?;
            }
            None => d.set_item(intern!(py, "rendering_npi"), &none)?,
        }
        match c.rendering {
            Some(e) => {
                let parts: Vec<&str> = [get(e, 4), get(e, 3)]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| unsafe { std::str::from_utf8_unchecked(p) })
                    .collect();
                if parts.is_empty() {
                    d.set_item(intern!(py, "rendering_name"), &none)?;
                } else {
                    d.set_item(intern!(py, "rendering_name"), parts.join(" "))?;
                }
                fields.add(intern!(py, "rendering_name"))?;
            }
            None => d.set_item(intern!(py, "rendering_name"), &none)?,
        }
        d.set_item(intern!(py, "facility_code"), text_or_none(get(clp, 8)))?;
        d.set_item(intern!(py, "frequency_code"), text_or_none(get(clp, 9)))?;
        for (k, name) in ["statement_from", "statement_to", "received_date"].iter().enumerate() {
            let key = PyString::intern_bound(py, name);
            match c.dates[k] {
                Some(raw) => {
                    d.set_item(&key, self.date(py, kit, raw)?)?;
                    fields.add(&key)?;
                }
                None => d.set_item(&key, &none)?,
            }
        }
        d.set_item(intern!(py, "remarks"), PyTuple::new_bound(py, c.remarks.iter().map(|r| s(py, r))))?;
        d.set_item(intern!(py, "amounts"), self.pairs_dict(py, kit, &c.amounts, true)?)?;
        d.set_item(intern!(py, "quantities"), self.pairs_dict(py, kit, &c.quantities, true)?)?;
        d.set_item(intern!(py, "refs"), self.pairs_dict(py, kit, &c.refs, false)?)?;
        d.set_item(intern!(py, "adjustments"), self.adjustments(py, kit, &c.adjustments)?)?;
        let imbalance = self.imbalance(py, kit, "claim", "CLP03 - sum of claim and line CAS = CLP04", &paid, c.found)?;
        d.set_item(intern!(py, "imbalance"), &imbalance)?;
        d.set_item(intern!(py, "lines"), PyTuple::new_bound(py, briefs))?;
        self.claims += 1;
        let mut follows = false;
        if status == b"22" {
            self.last_reversal = Some(pcn.to_vec());
        } else if self.last_reversal.as_deref() == Some(pcn) {
            follows = true;
            fields.add(intern!(py, "follows_reversal"))?;
            self.last_reversal = None;
        }
        d.set_item(intern!(py, "follows_reversal"), follows)?;
        let claim = kit.model(py, &kit.claim, d, fields.as_any())?;
        let ordinal = self.claims;
        let hold = self.context_holds || c.found.is_some();
        for (line, unbalanced) in lines {
            self.lines += 1;
            let item = kit.object_new.bind(py).call1((kit.remit_line.bind(py),))?;
            let v = PyDict::new_bound(py);
            v.set_item(intern!(py, "remittance"), &context)?;
            v.set_item(intern!(py, "claim"), &claim)?;
            v.set_item(intern!(py, "line"), line)?;
            v.set_item(intern!(py, "claim_ordinal"), ordinal)?;
            let posting = if hold || unbalanced { intern!(py, "hold") } else { intern!(py, "auto") };
            v.set_item(intern!(py, "posting"), posting)?;
            set_generic(&item, intern!(py, "__dict__"), v.as_any())?;
            out.push(item.unbind());
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------ reading

// ------------------------------------------------------------------------------------ tables

/// A column of a table: the values of one field for every row, in one or two flat buffers.
/// Nothing Python is made per value until a column is asked for.
enum Col {
    /// Text: the bytes of every value back to back, the end offset of each, and whether it is set.
    Text { data: Vec<u8>, ends: Vec<u32>, set: Vec<bool> },
    /// A list of codes per row (modifiers, remarks), joined by `;` in a text column.
    List { data: Vec<u8>, ends: Vec<u32> },
    /// An amount: the scaled integer (6 decimals), the decimals it was written with, set or not.
    Money { v: Vec<i64>, frac: Vec<u8>, set: Vec<bool> },
    /// A date as CCYYMMDD, 0 when absent.
    Date(Vec<u32>),
    /// An integer (row indexes, line numbers, ordinals); -1 when absent.
    Int(Vec<i64>),
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    List,
    Money,
    Date,
    Int,
}

impl Col {
    fn new(kind: Kind) -> Col {
        match kind {
            Kind::Text => Col::Text { data: Vec::new(), ends: Vec::new(), set: Vec::new() },
            Kind::List => Col::List { data: Vec::new(), ends: Vec::new() },
            Kind::Money => Col::Money { v: Vec::new(), frac: Vec::new(), set: Vec::new() },
            Kind::Date => Col::Date(Vec::new()),
            Kind::Int => Col::Int(Vec::new()),
        }
    }
    fn len(&self) -> usize {
        match self {
            Col::Text { ends, .. } | Col::List { ends, .. } => ends.len(),
            Col::Money { v, .. } => v.len(),
            Col::Date(v) => v.len(),
            Col::Int(v) => v.len(),
        }
    }
    fn text(&mut self, value: Option<&[u8]>) {
        let Col::Text { data, ends, set } = self else { unreachable!("not a text column") };
        if let Some(v) = value {
            data.extend_from_slice(v);
        }
        ends.push(data.len() as u32);
        set.push(value.is_some());
    }
    fn list(&mut self, values: &[&[u8]]) {
        let Col::List { data, ends } = self else { unreachable!("not a list column") };
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                data.push(b';');
            }
            data.extend_from_slice(v);
        }
        ends.push(data.len() as u32);
    }
    fn money(&mut self, value: Option<Dec>) {
        let Col::Money { v, frac, set } = self else { unreachable!("not a money column") };
        let d = value.unwrap_or_default();
        v.push(d.v as i64); // |v| < 10**18 (the money limit at scale 6), so it fits
        frac.push(d.frac as u8);
        set.push(value.is_some());
    }
    fn date(&mut self, raw: &[u8]) {
        let Col::Date(v) = self else { unreachable!("not a date column") };
        v.push(raw.iter().fold(0u32, |acc, c| acc * 10 + (c - b'0') as u32));
    }
    fn int(&mut self, value: i64) {
        let Col::Int(v) = self else { unreachable!("not an int column") };
        v.push(value);
    }

    /// The values as Python objects: str / tuple of str / Decimal / datetime.date / int, None when
    /// absent.
    fn to_py(&self, py: Python<'_>) -> PyResult<PyObject> {
        let none = || py.None();
        let out: Vec<PyObject> = match self {
            Col::Text { data, ends, set } => {
                let mut start = 0usize;
                ends.iter()
                    .zip(set)
                    .map(|(&end, &is_set)| {
                        let v = &data[start..end as usize];
                        start = end as usize;
                        if is_set {
                            s(py, v).into_any().unbind()
                        } else {
                            none()
                        }
                    })
                    .collect()
            }
            Col::List { data, ends } => {
                let mut start = 0usize;
                ends.iter()
                    .map(|&end| {
                        let v = &data[start..end as usize];
                        start = end as usize;
                        if v.is_empty() {
                            PyTuple::empty_bound(py).into_any().unbind()
                        } else {
                            PyTuple::new_bound(py, v.split(|&c| c == b';').map(|p| s(py, p)).collect::<Vec<_>>()).into_any().unbind()
                        }
                    })
                    .collect()
            }
            Col::Money { v, frac, set } => {
                let decimal = py.import_bound("decimal")?.getattr("Decimal")?;
                let mut out = Vec::with_capacity(v.len());
                for i in 0..v.len() {
                    if set[i] {
                        let d = Dec { v: v[i] as i128, frac: frac[i] as u32 };
                        out.push(decimal.call1((d.render(),))?.unbind());
                    } else {
                        out.push(none());
                    }
                }
                out
            }
            Col::Date(v) => {
                let date = py.import_bound("datetime")?.getattr("date")?;
                let mut out = Vec::with_capacity(v.len());
                for &d in v {
                    if d == 0 {
                        out.push(none());
                    } else {
                        out.push(date.call1((d / 10000, d / 100 % 100, d % 100))?.unbind());
                    }
                }
                out
            }
            Col::Int(v) => v.iter().map(|&i| if i < 0 { none() } else { i.into_py(py) }).collect(),
        };
        Ok(PyList::new_bound(py, out).into_any().unbind())
    }

    /// The raw buffers, for consumers that read them without a Python object per value (numpy,
    /// pyarrow, struct): little-endian u32 end offsets and the bytes for text and lists (joined by
    /// `;`); little-endian i64 values at 6 decimals for money; u32 CCYYMMDD for dates; i64 for ints;
    /// and one byte per row, 1 when the value is set (text, money).
    fn buffers(&self, py: Python<'_>) -> PyObject {
        use pyo3::types::PyBytes;
        let b = |v: &[u8]| PyBytes::new_bound(py, v).into_any().unbind();
        let le32 = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let le64 = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let flags = |v: &[bool]| v.iter().map(|&x| x as u8).collect::<Vec<u8>>();
        match self {
            Col::Text { data, ends, set } => ("text", b(&le32(ends)), b(data), b(&flags(set))).into_py(py),
            Col::List { data, ends } => ("list", b(&le32(ends)), b(data)).into_py(py),
            Col::Money { v, set, .. } => ("money", b(&le64(v)), b(&flags(set))).into_py(py),
            Col::Date(v) => ("date", b(&le32(v))).into_py(py),
            Col::Int(v) => ("int", b(&le64(v))).into_py(py),
        }
    }
}

const SERVICES: [(&str, Kind); 19] = [
    ("claim", Kind::Int), // row of `claims` in the same batch
    ("line_number", Kind::Int),
    ("qualifier", Kind::Text),
    ("procedure_code", Kind::Text),
    ("modifiers", Kind::List),
    ("submitted_procedure_code", Kind::Text),
    ("submitted_modifiers", Kind::List),
    ("charge", Kind::Money),
    ("paid", Kind::Money),
    ("units_billed", Kind::Money),
    ("units_paid", Kind::Money),
    ("service_date", Kind::Date),
    ("service_date_end", Kind::Date),
    ("line_control_number", Kind::Text),
    ("allowed", Kind::Money),
    ("remarks", Kind::List),
    ("adjustments", Kind::Int), // how many rows of `adjustments` this line has
    ("imbalance_found", Kind::Money),
    ("transaction", Kind::Int),
];

const CLAIMS: [(&str, Kind); 27] = [
    ("transaction", Kind::Int),
    ("patient_control_number", Kind::Text),
    ("status_code", Kind::Text),
    ("charge", Kind::Money),
    ("paid", Kind::Money),
    ("patient_responsibility", Kind::Money),
    ("filing_indicator", Kind::Text),
    ("payer_claim_control_number", Kind::Text),
    ("facility_code", Kind::Text),
    ("frequency_code", Kind::Text),
    ("patient_last_name", Kind::Text),
    ("patient_first_name", Kind::Text),
    ("patient_member_id", Kind::Text),
    ("insured_last_name", Kind::Text),
    ("insured_first_name", Kind::Text),
    ("insured_member_id", Kind::Text),
    ("corrected_last_name", Kind::Text),
    ("corrected_first_name", Kind::Text),
    ("corrected_member_id", Kind::Text),
    ("rendering_npi", Kind::Text),
    ("rendering_name", Kind::Text),
    ("statement_from", Kind::Date),
    ("statement_to", Kind::Date),
    ("received_date", Kind::Date),
    ("remarks", Kind::List),
    ("imbalance_found", Kind::Money),
    ("lines", Kind::Int),
];

const ADJUSTMENTS: [(&str, Kind); 6] = [
    ("claim", Kind::Int),
    ("service", Kind::Int), // row of `services`; None for a claim-level CAS
    ("group", Kind::Text),
    ("reason", Kind::Text),
    ("amount", Kind::Money),
    ("quantity", Kind::Money),
];

const EXTRAS: [(&str, Kind); 5] = [
    ("claim", Kind::Int),
    ("service", Kind::Int), // None for the claim's own AMT/QTY/REF
    ("segment", Kind::Text),
    ("qualifier", Kind::Text),
    ("value", Kind::Text),
];

const PROVIDER_ADJUSTMENTS: [(&str, Kind); 6] = [
    ("transaction", Kind::Int),
    ("provider_id", Kind::Text),
    ("fiscal_period_date", Kind::Date),
    ("reason_code", Kind::Text),
    ("reference", Kind::Text),
    ("amount", Kind::Money),
];

const TRANSACTIONS: [(&str, Kind); 4] =
    [("transaction", Kind::Int), ("claims", Kind::Int), ("lines", Kind::Int), ("provider_adjustments", Kind::Int)];

/// One table of a batch: named columns of equal length.
#[pyclass(module = "claimline_x12", frozen)]
struct Table {
    names: &'static [(&'static str, Kind)],
    cols: Vec<Col>,
}

impl Table {
    fn new(names: &'static [(&'static str, Kind)]) -> Table {
        Table { names, cols: names.iter().map(|&(_, k)| Col::new(k)).collect() }
    }
    fn rows(&self) -> usize {
        self.cols[0].len()
    }
    fn at(&self, name: &str) -> PyResult<&Col> {
        match self.names.iter().position(|&(n, _)| n == name) {
            Some(i) => Ok(&self.cols[i]),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }
}

#[pymethods]
impl Table {
    #[getter]
    fn num_rows(&self) -> usize {
        self.rows()
    }
    fn __len__(&self) -> usize {
        self.rows()
    }
    #[getter]
    fn column_names(&self) -> Vec<&'static str> {
        self.names.iter().map(|&(n, _)| n).collect()
    }
    /// The values of one column as a list of Python values.
    fn column(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        self.at(name)?.to_py(py)
    }
    /// The raw buffers of one column (see `Col::buffers`).
    fn buffers(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        Ok(self.at(name)?.buffers(py))
    }
}

/// One batch of tables: whole claims (at most about `TABLE_LINES` service lines, never a claim
/// split), and the transaction sets that ended in it.
#[pyclass(module = "claimline_x12", frozen)]
struct Tables {
    #[pyo3(get)]
    services: Py<Table>,
    #[pyo3(get)]
    claims: Py<Table>,
    #[pyo3(get)]
    adjustments: Py<Table>,
    #[pyo3(get)]
    extras: Py<Table>,
    #[pyo3(get)]
    provider_adjustments: Py<Table>,
    #[pyo3(get)]
    transactions: Py<Table>,
}

const TABLE_LINES: usize = 16384;

struct Cols {
    services: Table,
    claims: Table,
    adjustments: Table,
    extras: Table,
    plb: Table,
    transactions: Table,
}

impl Cols {
    fn new() -> Cols {
        Cols {
            services: Table::new(&SERVICES),
            claims: Table::new(&CLAIMS),
            adjustments: Table::new(&ADJUSTMENTS),
            extras: Table::new(&EXTRAS),
            plb: Table::new(&PROVIDER_ADJUSTMENTS),
            transactions: Table::new(&TRANSACTIONS),
        }
    }

    fn take(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        let done = std::mem::replace(self, Cols::new());
        let t = Tables {
            services: Py::new(py, done.services)?,
            claims: Py::new(py, done.claims)?,
            adjustments: Py::new(py, done.adjustments)?,
            extras: Py::new(py, done.extras)?,
            provider_adjustments: Py::new(py, done.plb)?,
            transactions: Py::new(py, done.transactions)?,
        };
        Ok(Py::new(py, t)?.into_any())
    }

    fn adjustment_rows(&mut self, claim: i64, service: i64, adjs: &[Adj]) -> R<()> {
        let a = &mut self.adjustments.cols;
        for adj in adjs {
            a[0].int(claim);
            a[1].int(service);
            a[2].text(Some(adj.group));
            a[3].text(Some(adj.reason));
            a[4].money(Some(adj.value));
            a[5].money(adj.count);
        }
        Ok(())
    }

    fn extra_rows(&mut self, claim: i64, service: i64, segment: &[u8], pairs: &[(&[u8], &[u8])]) {
        let x = &mut self.extras.cols;
        for (q, v) in pairs {
            x[0].int(claim);
            x[1].int(service);
            x[2].text(Some(segment));
            x[3].text(Some(q));
            x[4].text(Some(v));
        }
    }

    /// One claim (already checked by `read_claim`) as rows: the same values as the service's items.
    fn claim(&mut self, transaction: u64, c: &Claim) -> R<()> {
        let claim = self.claims.rows() as i64;
        fn opt_text(v: &[u8]) -> Option<&[u8]> {
            if v.is_empty() {
                None
            } else {
                Some(v)
            }
        }
        let opt_money = |v: &[u8]| -> R<Option<Dec>> { if v.is_empty() { Ok(None) } else { amount(v).map(Some) } };
        for (i, l) in c.lines.iter().enumerate() {
            let service = self.services.rows() as i64;
            let units_paid = l.units_paid;
            let original = l.original_units;
            let one = Dec { v: 1_000_000, frac: 0 };
            let units_billed = match (original, units_paid) {
                (Some(o), _) => o,
                (None, Some(p)) if p.v != 0 => p,
                _ => one,
            };
            let sv = &mut self.services.cols;
            sv[0].int(claim);
            sv[1].int(i as i64 + 1);
            sv[2].text(Some(l.svc.qualifier));
            sv[3].text(Some(l.svc.code));
            sv[4].list(&l.svc.modifiers);
            match &l.submitted {
                Some(p) => {
                    sv[5].text(Some(p.code));
                    sv[6].list(&p.modifiers);
                }
                None => {
                    sv[5].text(None);
                    sv[6].list(&[]);
                }
            }
            sv[7].money(Some(l.charge));
            sv[8].money(Some(l.paid));
            sv[9].money(Some(units_billed));
            sv[10].money(Some(units_paid.unwrap_or(one)));
            sv[11].date(l.service_date);
            sv[12].date(l.service_date_end);
            sv[13].text(opt_text(l.line_control));
            sv[14].money(l.allowed_value);
            sv[15].list(&l.remarks);
            sv[16].int(l.adjustments.len() as i64);
            sv[17].money(l.found);
            sv[18].int(transaction as i64);
            self.adjustment_rows(claim, service, &l.adjustments)?;
            self.extra_rows(claim, service, b"AMT", &l.amounts);
            self.extra_rows(claim, service, b"REF", &l.refs);
        }
        self.adjustment_rows(claim, -1, &c.adjustments)?;
        self.extra_rows(claim, -1, b"AMT", &c.amounts);
        self.extra_rows(claim, -1, b"QTY", &c.quantities);
        self.extra_rows(claim, -1, b"REF", &c.refs);
        let clp = c.clp;
        let cl = &mut self.claims.cols;
        cl[0].int(transaction as i64);
        cl[1].text(Some(get(clp, 1)));
        cl[2].text(Some(get(clp, 2)));
        cl[3].money(Some(amount(get(clp, 3))?));
        cl[4].money(Some(c.paid));
        cl[5].money(opt_money(get(clp, 5))?);
        cl[6].text(opt_text(get(clp, 6)));
        cl[7].text(opt_text(get(clp, 7)));
        cl[8].text(opt_text(get(clp, 8)));
        cl[9].text(opt_text(get(clp, 9)));
        for (k, person) in c.people.iter().enumerate() {
            for (j, i) in [3usize, 4, 9].iter().enumerate() {
                let mut value = person.and_then(|e| opt_text(get(e, *i)));
                if k == 0 && j == 2 && value.is_none() {
                    // as the service's items: the patient's member id is the insured's when the
                    // patient has none of their own (the patient is the subscriber)
                    value = c.people[1].and_then(|e| opt_text(get(e, 9)));
                }
                cl[10 + 3 * k + j].text(value);
            }
        }
        cl[19].text(c.rendering_npi.and_then(opt_text));
        let mut name = Vec::new();
        if let Some(e) = c.rendering {
            for part in [get(e, 4), get(e, 3)] {
                if !part.is_empty() {
                    if !name.is_empty() {
                        name.push(b' ');
                    }
                    name.extend_from_slice(part);
                }
            }
        }
        cl[20].text(if name.is_empty() { None } else { Some(&name) });
        for k in 0..3 {
            cl[21 + k].date(c.dates[k].unwrap_or(b""));
        }
        cl[24].list(&c.remarks);
        cl[25].money(c.found);
        cl[26].int(c.lines.len() as i64);
        Ok(())
    }

    fn plb(&mut self, transaction: u64, els: &[&[u8]], pairs: &[(&[u8], &[u8], &[u8])]) -> R<()> {
        let p = &mut self.plb.cols;
        for (reason, reference, raw) in pairs {
            p[0].int(transaction as i64);
            p[1].text(Some(get(els, 1)));
            p[2].date(get(els, 2));
            p[3].text(Some(reason));
            p[4].text(if reference.is_empty() { None } else { Some(reference) });
            p[5].money(Some(amount(raw)?));
        }
        Ok(())
    }

    fn transaction(&mut self, transaction: u64, claims: u64, lines: u64, plb: u64) {
        let t = &mut self.transactions.cols;
        t[0].int(transaction as i64);
        t[1].int(claims as i64);
        t[2].int(lines as i64);
        t[3].int(plb as i64);
    }
}

struct Reader {
    file: File,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    bytes_read: u64,
    terminator: u8,
}

impl Reader {
    /// The next raw segment (between terminators) as a range of `buf`.
    fn next(&mut self) -> R<Option<(usize, usize)>> {
        loop {
            if let Some(i) = memchr::memchr(self.terminator, &self.buf[self.pos..]) {
                let start = self.pos;
                self.pos += i + 1;
                return Ok(Some((start, start + i)));
            }
            if self.eof {
                if self.pos < self.buf.len() {
                    let start = self.pos;
                    self.pos = self.buf.len();
                    return Ok(Some((start, self.buf.len())));
                }
                return Ok(None);
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            let old = self.buf.len();
            self.buf.resize(old + CHUNK, 0);
            let n = self.file.read(&mut self.buf[old..]).map_err(|e| format!("read: {e}"))?;
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
            } else {
                self.bytes_read += n as u64;
                if !self.buf[old..].is_ascii() {
                    return no("non-ASCII bytes");
                }
            }
        }
    }
}

#[derive(Default)]
struct Tx {
    ordinal: u64,
    st: Vec<Vec<u8>>,
    count: u64,
    context_open: bool,
    header: Vec<Vec<Vec<u8>>>,
    payment: Option<Vec<u8>>,
    claims_paid: Dec,
    plb_total: Dec,
    claims: u64,
    lines: u64,
    plb: u64,
}

#[pyclass(module = "claimline_x12")]
struct Scanner {
    reader: Reader,
    element: u8,
    component: u8,
    emit: bool,
    // envelope
    isa13: Option<Vec<u8>>,
    gs: Option<(Vec<u8>, Vec<u8>)>, // GS06, GS08
    groups: u64,
    transactions: u64,
    ordinal: u64,
    tx: Option<Tx>,
    // the current claim: its raw segments, copied
    claim_buf: Vec<u8>,
    claim_segs: Vec<(usize, usize)>,
    out: Vec<PyObject>,
    done: bool,
    failed: Option<String>,
    kit: Option<Kit>,
    built: Built,
    cols: Option<Cols>,
    // pass one without the claim checks (`check_claims=False`), and whether it is inside a claim
    light: bool,
    light_claim: bool,
}

fn internal(e: PyErr) -> String {
    format!("internal: {e}")
}

fn owned(els: &[&[u8]]) -> Vec<Vec<u8>> {
    els.iter().map(|e| e.to_vec()).collect()
}

impl Scanner {
    fn close_claim(&mut self, py: Python<'_>) -> R<()> {
        if self.claim_segs.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.claim_buf);
        let ranges = std::mem::take(&mut self.claim_segs);
        // Every element of the claim in one vector, then each segment as a slice of it: three
        // allocations per claim instead of one per segment.
        let mut flat: Vec<&[u8]> = Vec::with_capacity(ranges.len() * 8);
        let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for &(a, b) in ranges.iter() {
            let first = flat.len();
            split(&buf[a..b], self.element, &mut flat);
            bounds.push((first, flat.len()));
        }
        let segs: Vec<&[&[u8]]> = bounds.iter().map(|&(a, b)| &flat[a..b]).collect();
        let claim = read_claim(&segs, self.component)?;
        let tx = self.tx.as_mut().expect("claim inside a transaction");
        tx.claims += 1;
        tx.lines += claim.lines.len() as u64;
        if claim.paid.v != 0 {
            tx.claims_paid = tx.claims_paid.add(claim.paid);
        }
        if let Some(cols) = &mut self.cols {
            cols.claim(tx.ordinal, &claim)?;
            if cols.services.rows() >= TABLE_LINES {
                self.out.push(cols.take(py).map_err(internal)?);
            }
        } else if let Some(kit) = &self.kit {
            self.built.claim(py, kit, &claim, &mut self.out).map_err(internal)?;
        } else if self.emit {
            self.out.push((1, claim_record(py, &claim)).into_py(py));
        }
        drop(claim);
        drop(segs);
        drop(flat);
        let mut buf = buf;
        buf.clear();
        self.claim_buf = buf;
        let mut ranges = ranges;
        ranges.clear();
        self.claim_segs = ranges;
        Ok(())
    }

    fn segment(&mut self, py: Python<'_>, raw: &[u8]) -> R<()> {
        let id_end = raw.iter().position(|&c| c == self.element).unwrap_or(raw.len());
        let id = &raw[..id_end];
        if memchr::memchr2(b'\n', b'\r', raw).is_some() {
            return no("line break inside a segment");
        }
        let envelope = matches!(id, b"SE" | b"ST" | b"GE" | b"IEA" | b"ISA" | b"GS");
        if self.tx.is_some() && !envelope {
            let tx = self.tx.as_mut().unwrap();
            tx.count += 1;
            if !segment_id_ok(id) {
                return no("segment id");
            }
            match id {
                b"CLP" | b"PLB" | b"LX" if self.light => {
                    // pass one without the claim checks (tables mode checks every claim in pass
                    // two): only what the totals need
                    tx.context_open = true;
                    self.light_claim = id == b"CLP";
                    if id == b"CLP" {
                        let mut els = Vec::new();
                        split(raw, self.element, &mut els);
                        let paid = amount(get(&els, 4))?;
                        tx.claims += 1;
                        if paid.v != 0 {
                            tx.claims_paid = tx.claims_paid.add(paid);
                        }
                    } else if id == b"PLB" {
                        let mut els = Vec::new();
                        split(raw, self.element, &mut els);
                        let pairs_read = read_plb(&els, self.component, &mut tx.plb_total)?;
                        tx.plb += pairs_read.len() as u64;
                    }
                }
                _ if self.light_claim => {
                    if id == b"SVC" {
                        tx.lines += 1;
                    }
                }
                b"CLP" | b"PLB" | b"LX" => {
                    tx.context_open = true;
                    self.close_claim(py)?;
                    if id == b"CLP" {
                        self.claim_segs.push((0, raw.len()));
                        self.claim_buf.extend_from_slice(raw);
                    } else if id == b"PLB" {
                        let mut els = Vec::new();
                        split(raw, self.element, &mut els);
                        let tx = self.tx.as_mut().unwrap();
                        let pairs_read = read_plb(&els, self.component, &mut tx.plb_total)?;
                        tx.plb += pairs_read.len() as u64;
                        if let Some(cols) = &mut self.cols {
                            cols.plb(tx.ordinal, &els, &pairs_read)?;
                        } else if let Some(kit) = &self.kit {
                            let built = &mut self.built;
                            let context = built.context.as_ref().map(|c| c.clone_ref(py)).ok_or("PLB outside")?;
                            let period = built.date(py, kit, get(&els, 2)).map_err(internal)?;
                            for (reason, reference, raw) in &pairs_read {
                                built.plb += 1;
                                let amount = built.decimal(py, kit, raw).map_err(internal)?;
                                let reference: PyObject =
                                    if reference.is_empty() { py.None() } else { s(py, reference).into_any().unbind() };
                                let item = kit
                                    .provider_adjustment
                                    .bind(py)
                                    .call1((&context, s(py, get(&els, 1)), &period, s(py, reason), reference, amount, built.plb))
                                    .map_err(internal)?;
                                self.out.push(item.unbind());
                            }
                        } else if self.emit {
                            let triples: Vec<PyObject> = pairs_read
                                .iter()
                                .map(|(r, f, a)| (s(py, r), s(py, f), s(py, a)).into_py(py))
                                .collect();
                            let rec = (s(py, get(&els, 1)), s(py, get(&els, 2)), triples);
                            self.out.push((2, rec).into_py(py));
                        }
                    }
                }
                _ if !self.claim_segs.is_empty() => {
                    let start = self.claim_buf.len();
                    self.claim_buf.extend_from_slice(raw);
                    self.claim_segs.push((start, self.claim_buf.len()));
                }
                _ => {
                    if id == b"BPR" && tx.payment.is_none() {
                        let mut els = Vec::new();
                        split(raw, self.element, &mut els);
                        amount(get(&els, 2))?;
                        tx.payment = Some(get(&els, 2).to_vec());
                    }
                    if !tx.context_open && !self.emit {
                        let mut els = Vec::new();
                        split(raw, self.element, &mut els);
                        tx.header.push(owned(&els));
                    }
                }
            }
            return Ok(());
        }
        if self.tx.is_some() && id != b"SE" {
            return no("envelope segment inside a transaction set");
        }
        let mut els = Vec::new();
        split(raw, self.element, &mut els);
        match id {
            b"ISA" => {
                if self.isa13.is_some() || self.tx.is_some() {
                    return no("ISA inside an interchange");
                }
                self.isa13 = Some(get(&els, 13).to_vec());
                self.groups = 0;
            }
            b"GS" => {
                if self.isa13.is_none() || self.gs.is_some() {
                    return no("GS out of place");
                }
                self.gs = Some((get(&els, 6).to_vec(), get(&els, 8).to_vec()));
                self.groups += 1;
                self.transactions = 0;
            }
            b"ST" => {
                let Some((_, gs08)) = &self.gs else { return no("ST outside a group") };
                if self.tx.is_some() {
                    return no("ST before SE");
                }
                if get(&els, 1) != b"835" {
                    return no("not an 835");
                }
                let version = if get(&els, 3).is_empty() { &gs08[..] } else { get(&els, 3) };
                if !SUPPORTED_835.contains(&version) {
                    return no("unsupported version");
                }
                self.ordinal += 1;
                self.transactions += 1;
                self.tx = Some(Tx { ordinal: self.ordinal, st: owned(&els), count: 1, ..Default::default() });
                if self.cols.is_some() {
                    // tables carry the transaction's ordinal on every row; nothing to emit at ST
                } else if let Some(kit) = &self.kit {
                    let context = kit.contexts.bind(py).get_item(self.ordinal).map_err(internal)?;
                    let b = &mut self.built;
                    b.context_holds = !context.getattr(intern!(py, "imbalance")).map_err(internal)?.is_none();
                    b.context = Some(context.unbind());
                    (b.claims, b.lines, b.plb, b.last_reversal) = (0, 0, 0, None);
                } else if self.emit {
                    self.out.push((0, self.ordinal).into_py(py));
                }
            }
            b"SE" => {
                if self.tx.is_none() {
                    return no("SE outside a transaction");
                }
                self.tx.as_mut().unwrap().count += 1;
                self.tx.as_mut().unwrap().context_open = true;
                self.light_claim = false;
                self.close_claim(py)?;
                let tx = self.tx.take().unwrap();
                if get(&els, 2) != get_owned(&tx.st, 2) || get(&els, 1) != tx.count.to_string().as_bytes() {
                    return no("SE01/SE02");
                }
                if let Some(cols) = &mut self.cols {
                    cols.transaction(tx.ordinal, tx.claims, tx.lines, tx.plb);
                    self.out.push(cols.take(py).map_err(internal)?);
                } else if let Some(kit) = &self.kit {
                    let b = &self.built;
                    let context = b.context.as_ref().ok_or("SE outside")?;
                    let item = kit
                        .remittance_read
                        .bind(py)
                        .call1((context.bind(py), b.claims, b.lines, b.plb))
                        .map_err(internal)?;
                    self.out.push(item.unbind());
                } else if self.emit {
                    self.out.push((3,).into_py(py));
                } else {
                    let (gs06, gs08) = self.gs.as_ref().unwrap();
                    let header: Vec<PyObject> = tx
                        .header
                        .iter()
                        .map(|seg| PyList::new_bound(py, seg.iter().map(|e| s(py, e))).into_any().unbind())
                        .collect();
                    let st: Vec<&[u8]> = tx.st.iter().map(|e| &e[..]).collect();
                    let rec = (
                        tx.ordinal,
                        PyList::new_bound(py, st.iter().map(|e| s(py, e))),
                        s(py, self.isa13.as_deref().unwrap_or(&b""[..])),
                        s(py, gs06),
                        s(py, gs08),
                        header,
                        opt(py, tx.payment.as_deref()),
                        tx.claims_paid.render(),
                        tx.plb_total.render(),
                        tx.claims,
                        tx.lines,
                    );
                    self.out.push(rec.into_py(py));
                }
            }
            b"GE" => {
                let Some((gs06, _)) = &self.gs else { return no("GE outside a group") };
                if get(&els, 2) != &gs06[..] || get(&els, 1) != self.transactions.to_string().as_bytes() {
                    return no("GE01/GE02");
                }
                self.gs = None;
            }
            b"IEA" => {
                let Some(isa13) = &self.isa13 else { return no("IEA outside an interchange") };
                if self.gs.is_some()
                    || get(&els, 2) != &isa13[..]
                    || get(&els, 1) != self.groups.to_string().as_bytes()
                {
                    return no("IEA01/IEA02");
                }
                self.isa13 = None;
            }
            _ => return no("segment outside a transaction set"),
        }
        Ok(())
    }

    fn step(&mut self, py: Python<'_>) -> R<()> {
        // tables are batches already (thousands of lines each): hand each over as soon as it is made
        let batch = if self.cols.is_some() { 1 } else { BATCH };
        while self.out.len() < batch {
            let Some((a, b)) = self.reader.next()? else {
                if self.tx.is_some() || self.gs.is_some() || self.isa13.is_some() {
                    return no("file ends inside an envelope");
                }
                self.done = true;
                return Ok(());
            };
            let buf = std::mem::take(&mut self.reader.buf);
            let raw = strip(&buf[a..b]);
            let result = if raw.is_empty() { Ok(()) } else { self.segment(py, raw) };
            self.reader.buf = buf;
            result?;
        }
        Ok(())
    }
}

fn get_owned(els: &[Vec<u8>], i: usize) -> &[u8] {
    if i < els.len() {
        &els[i]
    } else {
        b""
    }
}

#[pymethods]
impl Scanner {
    #[new]
    #[pyo3(signature = (path, element, component, terminator, start, emit, kit=None, tables=false, check_claims=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: std::path::PathBuf,
        element: &str,
        component: &str,
        terminator: &str,
        start: u64,
        emit: bool,
        kit: Option<&Bound<'_, PyTuple>>,
        tables: bool,
        check_claims: bool,
    ) -> PyResult<Self> {
        if !check_claims && emit {
            return Err(PyValueError::new_err("check_claims=False is for pass one (emit=False) only"));
        }
        if tables && (kit.is_some() || !emit) {
            return Err(PyValueError::new_err("tables is a pass-two mode of its own: emit=True, no kit"));
        }
        let kit = match kit {
            Some(k) => {
                let at = |i: usize| -> PyResult<PyObject> { Ok(k.get_item(i)?.unbind()) };
                if k.len() != 19 {
                    return Err(PyValueError::new_err("kit must have 19 items"));
                }
                Some(Kit {
                    contexts: at(0)?,
                    service_line: at(1)?,
                    brief: at(2)?,
                    adjustment: at(3)?,
                    imbalance: at(4)?,
                    person: at(5)?,
                    claim: at(6)?,
                    remit_line: at(7)?,
                    provider_adjustment: at(8)?,
                    remittance_read: at(9)?,
                    decimal: at(10)?,
                    date: at(11)?,
                    line_fields: at(12)?,
                    brief_fields: at(13)?,
                    adjustment_fields: at(14)?,
                    person_fields: at(15)?,
                    imbalance_fields: at(16)?,
                    one: at(17)?,
                    object_new: at(18)?,
                })
            }
            None => None,
        };
        let one = |d: &str| -> PyResult<u8> {
            match d.as_bytes() {
                [c] if c.is_ascii() => Ok(*c),
                _ => Err(Unsupported::new_err("delimiter is not one ASCII character")),
            }
        };
        let mut file = File::open(&path).map_err(|e| PyOSError::new_err(e.to_string()))?;
        file.seek(SeekFrom::Start(start)).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Scanner {
            reader: Reader { file, buf: Vec::with_capacity(CHUNK * 2), pos: 0, eof: false, bytes_read: start, terminator: one(terminator)? },
            element: one(element)?,
            component: one(component)?,
            emit,
            isa13: None,
            gs: None,
            groups: 0,
            transactions: 0,
            ordinal: 0,
            tx: None,
            claim_buf: Vec::new(),
            claim_segs: Vec::new(),
            out: Vec::new(),
            done: false,
            failed: None,
            kit,
            built: Built::default(),
            cols: if tables { Some(Cols::new()) } else { None },
            light: !check_claims,
            light_claim: false,
        })
    }

    /// Bytes of the file read so far (for progress reports).
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.reader.bytes_read
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        if let Some(why) = &self.failed {
            return Err(Unsupported::new_err(why.clone()));
        }
        if self.done {
            return Ok(None);
        }
        if let Err(why) = self.step(py) {
            self.failed = Some(why.clone());
            self.out.clear();
            if why.starts_with("internal: ") {
                return Err(PyRuntimeError::new_err(why)); // a bug here, not something in the file
            }
            return Err(Unsupported::new_err(why));
        }
        let batch = std::mem::take(&mut self.out);
        if batch.is_empty() && self.done {
            return Ok(None);
        }
        Ok(Some(PyList::new_bound(py, batch).into_any().unbind()))
    }
}

#[pymodule]
fn claimline_x12(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scanner>()?;
    m.add_class::<Tables>()?;
    m.add_class::<Table>()?;
    m.add("Unsupported", m.py().get_type_bound::<Unsupported>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(r: R<Dec>) -> Result<(i128, u32), bool> {
        r.map(|d| (d.v, d.frac)).map_err(|_| false)
    }

    /// `amount` accepts exactly what `amount_reference` accepts, with the same value and exponent,
    /// over every string of up to 5 characters from an alphabet that covers the edge cases, and
    /// over long ones near the limits.
    #[test]
    fn amount_agrees_with_its_reference() {
        let alphabet: &[u8] = b"0159.-x";
        let mut checked = 0;
        let mut buf = Vec::new();
        fn walk(alphabet: &[u8], buf: &mut Vec<u8>, depth: usize, checked: &mut usize) {
            assert_eq!(verdict(amount(buf)), verdict(amount_reference(buf)), "{:?}", String::from_utf8_lossy(buf));
            *checked += 1;
            if depth == 0 {
                return;
            }
            for &c in alphabet {
                buf.push(c);
                walk(alphabet, buf, depth - 1, checked);
                buf.pop();
            }
        }
        walk(alphabet, &mut buf, 5, &mut checked);
        assert!(checked > 19_000);
        for long in [
            "999999999999", "1000000000000", "0000999999999999", "000000000000001", "0000000000000001",
            "999999999999.999999", "99999999999.9999999", "-999999999999.99", ".123456", ".1234567",
            "-.5", "-0.000", "-0.001", "12.", "1.2.3", "123456789012345678", "1234567890123456789",
            "0.1234567x", "1234567890123x", "12345678901234567", "-", ".", "",
        ] {
            assert_eq!(verdict(amount(long.as_bytes())), verdict(amount_reference(long.as_bytes())), "{long}");
        }
    }
}
