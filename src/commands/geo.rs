//! Geo commands over sorted sets whose scores are Redis's 52-bit geohashes
//! ([`crate::store::geo`]). GEOADD runs and replicates as the ZADD of its scores, as in
//! Redis; a search that stores its result propagates that result (DEL, ZADD) instead of
//! the search, so followers hold exactly the members this server found.

use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::Value;
use crate::store::geo::{self, Extent, Shape};
use crate::store::notify::ZSET;
use crate::store::zset::{ScoreRange, ZSetValue};
use bytes::Bytes;

const STORE_SPEC_6: &[super::table::KeySpec] = &[
    key_range(key::RO | key::ACCESS, 1, 0, 1, 0),
    key_range(key::OW | key::UPDATE, 0, 0, 1, 0).after_keyword("STORE", 6),
    key_range(key::OW | key::UPDATE, 0, 0, 1, 0).after_keyword("STOREDIST", 6),
];
const STORE_SPEC_5: &[super::table::KeySpec] = &[
    key_range(key::RO | key::ACCESS, 1, 0, 1, 0),
    key_range(key::OW | key::UPDATE, 0, 0, 1, 0).after_keyword("STORE", 5),
    key_range(key::OW | key::UPDATE, 0, 0, 1, 0).after_keyword("STOREDIST", 5),
];
const RADIUS_ARGS: &str = "key:key longitude:double latitude:double radius:double unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT=count_block{count:integer [ANY]}] [order(ASC|DESC)] [STORE=key:key] [STOREDIST=key:key]";
const RADIUS_MEMBER_ARGS: &str = "key:key member radius:double unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT=count_block{count:integer [ANY]}] [order(ASC|DESC)] [STORE=key:key] [STOREDIST=key:key]";
const SEARCH_ARGS: &str = "key:key from(FROMMEMBER=member|FROMLONLAT=fromlonlat{longitude:double latitude:double}) by(circle{BYRADIUS=radius:double unit(M|KM|FT|MI)}|box{BYBOX=width:double height:double unit(M|KM|FT|MI)}) [order(ASC|DESC)] [COUNT=count_block{count:integer [ANY]}] [WITHCOORD] [WITHDIST] [WITHHASH]";

/// Geo family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("geoadd", -5, WRITE | DENYOOM, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "geo", "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set", geoadd)
            .args("key:key [condition(NX|XX)] [CH] data{longitude:double latitude:double member}..."),
        cmd("geodist", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "3.2.0", "Returns the distance between two members of a geospatial index", geodist)
            .args("key:key member1 member2 [unit(M|KM|FT|MI)]"),
        cmd("geohash", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "3.2.0", "Returns members of a geospatial index as standard geohash strings", geohash)
            .args("key:key [member...]"),
        cmd("geopos", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "3.2.0", "Returns longitude and latitude of members of a geospatial index", geopos)
            .args("key:key [member...]"),
        cmd("georadius", -6, WRITE | DENYOOM, STORE_SPEC_6, "geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", georadius)
            .args(RADIUS_ARGS),
        cmd("georadius_ro", -6, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "3.2.10", "A read-only variant for GEORADIUS", georadius_ro)
            .args(RADIUS_ARGS),
        cmd("georadiusbymember", -5, WRITE | DENYOOM, STORE_SPEC_5, "geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", georadiusbymember)
            .args(RADIUS_MEMBER_ARGS),
        cmd("georadiusbymember_ro", -5, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "3.2.10", "A read-only variant for GEORADIUSBYMEMBER", georadiusbymember_ro)
            .args(RADIUS_MEMBER_ARGS),
        cmd("geosearch", -7, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", geosearch)
            .args(SEARCH_ARGS),
        cmd("geosearchstore", -8, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, 0, 1, 0)] }, "geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", geosearchstore)
            .args("destination:key source:key from(FROMMEMBER=member|FROMLONLAT=fromlonlat{longitude:double latitude:double}) by(circle{BYRADIUS=radius:double unit(M|KM|FT|MI)}|box{BYBOX=width:double height:double unit(M|KM|FT|MI)}) [order(ASC|DESC)] [COUNT=count_block{count:integer [ANY]}] [STOREDIST]"),
    ]
}

fn double(a: &[u8]) -> Result<f64, CmdError> {
    crate::protocol::parse_f64_in_range(a).ok_or(CmdError::NotFloat)
}

/// A longitude, latitude pair inside the indexable area.
fn lon_lat(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let (lon, lat) = (double(&args[0])?, double(&args[1])?);
    if !(geo::LONG_MIN..=geo::LONG_MAX).contains(&lon)
        || !(geo::LAT_MIN..=geo::LAT_MAX).contains(&lat)
    {
        return Err(CmdError::err(format!(
            "invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn unit(a: &[u8]) -> Result<f64, CmdError> {
    Ok(if is(a, "m") {
        1.0
    } else if is(a, "km") {
        1000.0
    } else if is(a, "ft") {
        0.3048
    } else if is(a, "mi") {
        1609.34
    } else {
        return Err(CmdError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        ));
    })
}

/// A distance and its unit (`radius unit`).
fn radius(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let r = crate::protocol::parse_f64_in_range(&args[0])
        .ok_or_else(|| CmdError::err("need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((r, unit(&args[1])?))
}

/// A distance as Redis prints one: four decimals, rounded half to even.
fn distance_text(d: f64) -> String {
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A coordinate as Redis's addReplyHumanLongDouble: `%.17Lf` without trailing zeros, as
/// a bulk string in RESP2 and a double in RESP3.
fn reply_coordinate(ctx: &mut Ctx<'_>, v: f64) {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    if ctx.out.resp3 {
        ctx.out.raw(format!(",{s}\r\n").as_bytes());
    } else {
        ctx.out.bulk(s.as_bytes());
    }
}

/// Runs `f` on the sorted set at `key` (None when missing); WRONGTYPE otherwise.
fn with_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&ZSetValue>) -> R,
) -> Result<R, CmdError> {
    super::collection::read(ctx, key, f)
}

fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while first < args.len() {
        let a = &args[first];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if !is(a, "ch") {
            break;
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut zadd: Vec<Bytes> = Vec::with_capacity(first + (args.len() - first) / 3 * 2);
    zadd.push(Bytes::from_static(b"ZADD"));
    zadd.extend(args[1..first].iter().cloned());
    for triple in args[first..].chunks(3) {
        let (lon, lat) = lon_lat(triple)?;
        let score = geo::score_of(lon, lat).expect("checked to be in range");
        zadd.push(Bytes::from((score as u64).to_string()));
        zadd.push(triple[2].clone());
    }
    super::zsets::zadd(ctx, &zadd)
}

fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let scores = with_zset(ctx, &args[1], |z| {
        z.and_then(|z| Some((z.score(&args[2])?, z.score(&args[3])?)))
    })?;
    match scores {
        Some((a, b)) => {
            let ((lon1, lat1), (lon2, lat2)) = (geo::point_of(a), geo::point_of(b));
            let d = geo::distance(lon1, lat1, lon2, lat2) / to_meters;
            ctx.out.bulk(distance_text(d).as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// The scores of the members named from argument 2 on (None for a missing one).
fn member_scores(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Vec<Option<f64>>, CmdError> {
    with_zset(ctx, &args[1], |z| {
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect()
    })
}

fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, args)?;
    ctx.out.array(scores.len());
    for s in scores {
        let text = s.and_then(|s| {
            let (lon, lat) = geo::point_of(s);
            geo::geohash_string(lon, lat)
        });
        match text {
            Some(t) => ctx.out.bulk(t.as_bytes()),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores = member_scores(ctx, args)?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (lon, lat) = geo::point_of(s);
                ctx.out.array(2);
                reply_coordinate(ctx, lon);
                reply_coordinate(ctx, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// Which command of the search family runs.
#[derive(Clone, Copy, PartialEq)]
enum Query {
    /// GEORADIUS[_RO]: the centre is given by coordinates.
    Radius { store_allowed: bool },
    /// GEORADIUSBYMEMBER[_RO]: the centre is a member.
    RadiusByMember { store_allowed: bool },
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE.
    SearchStore,
}

fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(
        ctx,
        args,
        Query::Radius {
            store_allowed: true,
        },
    )
}

fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(
        ctx,
        args,
        Query::Radius {
            store_allowed: false,
        },
    )
}

fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(
        ctx,
        args,
        Query::RadiusByMember {
            store_allowed: true,
        },
    )
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(
        ctx,
        args,
        Query::RadiusByMember {
            store_allowed: false,
        },
    )
}

fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Query::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search(ctx, args, Query::SearchStore)
}

/// The result order a search asked for.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// One member found: name, score, position and distance from the centre (meters).
struct Found {
    member: Bytes,
    score: f64,
    lon: f64,
    lat: f64,
    dist: f64,
}

/// The score of `member` in the source (an error when it is missing), as the search
/// centre.
fn member_centre(z: Option<&ZSetValue>, member: &[u8]) -> Result<(f64, f64), CmdError> {
    z.and_then(|z| z.score(member))
        .map(geo::point_of)
        .ok_or_else(|| CmdError::err("could not decode requested zset member"))
}

fn search(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Query) -> CmdResult {
    let src_at = if kind == Query::SearchStore { 2 } else { 1 };
    let src = args[src_at].clone();
    // The source is read once, as stock does, before the options are looked at.
    let exists = with_zset(ctx, &src, |z| z.is_some())?;
    let mut store: Option<(Bytes, bool)> = None;
    let mut centre: Option<(f64, f64)> = None;
    let mut extent: Option<(Extent, f64)> = None;
    let base = match kind {
        Query::Radius { .. } => {
            centre = Some(lon_lat(&args[2..4])?);
            let (r, conv) = radius(&args[4..6])?;
            extent = Some((Extent::Radius(r), conv));
            6
        }
        Query::RadiusByMember { .. } => {
            if exists {
                centre = Some(with_zset(ctx, &src, |z| member_centre(z, &args[2]))??);
                let (r, conv) = radius(&args[3..5])?;
                extent = Some((Extent::Radius(r), conv));
            }
            5
        }
        Query::Search => 2,
        Query::SearchStore => {
            store = Some((args[1].clone(), false));
            3
        }
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let mut order = Order::None;
    let mut count: i64 = 0;
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let geosearch = matches!(kind, Query::Search | Query::SearchStore);
    let store_allowed = matches!(
        kind,
        Query::Radius {
            store_allowed: true
        } | Query::RadiusByMember {
            store_allowed: true
        }
    );
    let rest = &args[base.min(args.len())..];
    let mut i = 0;
    while i < rest.len() {
        let (a, left) = (&rest[i], rest.len() - i - 1);
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            order = Order::Asc;
        } else if is(a, "desc") {
            order = Order::Desc;
        } else if is(a, "count") && left >= 1 {
            count = arg_i64(&rest[i + 1])?;
            if count <= 0 {
                return Err(CmdError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && store_allowed {
            store = Some((rest[i + 1].clone(), is(a, "storedist")));
            i += 1;
        } else if is(a, "storedist") && kind == Query::SearchStore {
            store = Some((args[1].clone(), true));
        } else if is(a, "frommember") && left >= 1 && geosearch && !from_lonlat {
            if exists {
                centre = Some(with_zset(ctx, &src, |z| member_centre(z, &rest[i + 1]))??);
            }
            from_member = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && geosearch && !from_member {
            centre = Some(lon_lat(&rest[i + 1..i + 3])?);
            from_lonlat = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && geosearch && !by_box {
            let (r, conv) = radius(&rest[i + 1..i + 3])?;
            extent = Some((Extent::Radius(r), conv));
            by_radius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && geosearch && !by_radius {
            let w = crate::protocol::parse_f64_in_range(&rest[i + 1])
                .ok_or_else(|| CmdError::err("need numeric width"))?;
            let h = crate::protocol::parse_f64_in_range(&rest[i + 2])
                .ok_or_else(|| CmdError::err("need numeric height"))?;
            if w < 0.0 || h < 0.0 {
                return Err(CmdError::err("height or width cannot be negative"));
            }
            extent = Some((Extent::Box(w, h), unit(&rest[i + 3])?));
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(CmdError::err(format!(
            "{} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if kind == Query::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if geosearch && !(from_member || from_lonlat) {
        return Err(CmdError::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if geosearch && !(by_radius || by_box) {
        return Err(CmdError::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }
    let (Some((lon, lat)), Some((extent, conversion)), true) = (centre, extent, exists) else {
        // No source: nothing found (a destination is deleted).
        return match store {
            Some((dest, _)) => {
                store_found(ctx, &dest, Vec::new(), geosearch)?;
                ctx.out.int(0);
                Ok(())
            }
            None => {
                ctx.out.array(0);
                Ok(())
            }
        };
    };
    if count != 0 && order == Order::None && !any {
        order = Order::Asc;
    }
    let shape = Shape {
        lon,
        lat,
        extent,
        conversion,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = with_zset(ctx, &src, |z| collect(z.expect("exists"), &shape, limit))?;
    match order {
        Order::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::None => {}
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    for f in found.iter_mut() {
        f.dist /= conversion;
    }
    if let Some((dest, dist)) = store {
        let n = found.len();
        let pairs: Vec<(Bytes, f64)> = found
            .into_iter()
            .map(|f| (f.member, if dist { f.dist } else { f.score }))
            .collect();
        store_found(ctx, &dest, pairs, geosearch)?;
        ctx.out.int(n as i64);
        return Ok(());
    }
    let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    ctx.out.array(found.len());
    for f in &found {
        if options > 0 {
            ctx.out.array(options + 1);
        }
        ctx.out.bulk(&f.member);
        if withdist {
            ctx.out.bulk(distance_text(f.dist).as_bytes());
        }
        if withhash {
            ctx.out.int(f.score as i64);
        }
        if withcoord {
            ctx.out.array(2);
            reply_coordinate(ctx, f.lon);
            reply_coordinate(ctx, f.lat);
        }
    }
    Ok(())
}

/// The members inside `shape`, cell range by cell range in score order (stopping at
/// `limit` when not 0, for ANY).
fn collect(z: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for (min, max) in shape.score_ranges() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (from, to) = z.score_bounds(&ScoreRange {
            min,
            max,
            min_ex: false,
            max_ex: true,
        });
        for (member, score) in z.range_iter(from, to) {
            if let Some((lon, lat, dist)) = shape.contains(score) {
                found.push(Found {
                    member: Bytes::copy_from_slice(member),
                    score,
                    lon,
                    lat,
                    dist,
                });
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
    }
    found
}

/// Replaces `dest` with the members found (deleted when none); the result reaches
/// followers as DEL + ZADD of the stored scores.
fn store_found(
    ctx: &mut Ctx<'_>,
    dest: &[u8],
    pairs: Vec<(Bytes, f64)>,
    geosearch: bool,
) -> CmdResult {
    let event = if geosearch {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    if pairs.is_empty() {
        return super::collection::replace_propagating_result(ctx, dest, None, ZSET, event);
    }
    let scores: Vec<String> = pairs
        .iter()
        .map(|(_, s)| crate::protocol::reply::format_double(*s))
        .collect();
    let mut zadd: Vec<&[u8]> = vec![b"ZADD", dest];
    for ((m, _), s) in pairs.iter().zip(&scores) {
        zadd.push(s.as_bytes());
        zadd.push(m);
    }
    let z = ZSetValue::from_pairs(pairs.iter().map(|(m, s)| (&m[..], *s)), ctx.limits());
    super::collection::replace_propagating_result(
        ctx,
        dest,
        Some((Value::ZSet(Box::new(z)), &zadd)),
        ZSET,
        event,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_print_as_stock() {
        assert_eq!(distance_text(166274.15156960033), "166274.1516");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(0.00004), "0.0000");
        assert_eq!(distance_text(-1.5), "-1.5000");
    }
}
