//! Geohash arithmetic as Redis does it: a point is a 52-bit interleaved geohash used as
//! a sorted-set score, and a radius or box search scans the score ranges of the nine
//! cells around the centre, at the precision Redis picks for the radius. Every step
//! (cell size, neighbours, the bounding box, the haversine distance) follows Redis's
//! arithmetic, so a key moves between stock and Ferrocache with the same scores and a
//! search finds the same members.

/// Latitude limits of the Web Mercator square Redis indexes.
pub const LAT_MIN: f64 = -85.05112878;
/// See [`LAT_MIN`].
pub const LAT_MAX: f64 = 85.05112878;
/// Longitude limits.
pub const LONG_MIN: f64 = -180.0;
/// See [`LONG_MIN`].
pub const LONG_MAX: f64 = 180.0;
const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash {
    bits: u64,
    step: u8,
}

impl Hash {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

#[derive(Debug, Clone, Copy)]
struct Area {
    lon: Range,
    lat: Range,
}

fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0xFFFF_FFFF) as u32
}

/// Latitude bits in even positions, longitude bits in odd ones.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Hash {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

fn decode(lon_r: Range, lat_r: Range, h: Hash) -> Option<Area> {
    if h.is_zero() {
        return None;
    }
    let ilat = squash(h.bits) as f64;
    let ilon = squash(h.bits >> 1) as f64;
    let cells = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (lat_r.max - lat_r.min, lon_r.max - lon_r.min);
    Some(Area {
        lat: Range {
            min: lat_r.min + (ilat / cells) * lat_scale,
            max: lat_r.min + ((ilat + 1.0) / cells) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilon / cells) * lon_scale,
            max: lon_r.min + ((ilon + 1.0) / cells) * lon_scale,
        },
    })
}

/// The sorted-set score of a point (GEOADD); None outside the indexable area.
pub fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, STEP_MAX).map(|h| align52(h) as f64)
}

/// The point a score stands for: the centre of its cell.
pub fn point_of(score: f64) -> (f64, f64) {
    let h = Hash {
        bits: score as u64,
        step: STEP_MAX,
    };
    let a = decode(WGS84_LONG, WGS84_LAT, h).expect("step is never zero");
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash of a point (GEOHASH), re-encoded over latitudes
/// -90..90 as the common geohash is.
pub fn geohash_string(lon: f64, lat: f64) -> Option<String> {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let h = encode(
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
        lon,
        lat,
        STEP_MAX,
    )?;
    Some(
        (0..11)
            .map(|i| {
                let idx = if i == 10 {
                    0
                } else {
                    (h.bits >> (52 - (i + 1) * 5)) & 0x1f
                };
                ALPHABET[idx as usize] as char
            })
            .collect(),
    )
}

fn align52(h: Hash) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters, as Redis computes it.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What a search covers around its centre, in the unit's meters (`conversion`).
#[derive(Debug, Clone, Copy)]
pub enum Extent {
    /// BYRADIUS / GEORADIUS.
    Radius(f64),
    /// BYBOX width height.
    Box(f64, f64),
}

/// A search area: centre, extent and the meters in one unit of the extent.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Longitude of the centre.
    pub lon: f64,
    /// Latitude of the centre.
    pub lat: f64,
    /// Radius or box.
    pub extent: Extent,
    /// Meters per unit (m 1, km 1000, ft 0.3048, mi 1609.34).
    pub conversion: f64,
}

impl Shape {
    /// The distance from the centre when the point `score` lies inside the shape.
    pub fn contains(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (lon, lat) = point_of(score);
        let d = match self.extent {
            Extent::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)?
            }
            Extent::Box(w, h) => {
                let (w, h) = (w * self.conversion, h * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                distance(self.lon, self.lat, lon, lat)
            }
        };
        Some((lon, lat, d))
    }

    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = match self.extent {
            Extent::Radius(r) => (r, r),
            Extent::Box(w, h) => (h / 2.0, w / 2.0),
        };
        let (height, width) = (height * self.conversion, width * self.conversion);
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let delta = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.lon - delta,
            self.lat - lat_delta,
            self.lon + delta,
            self.lat + lat_delta,
        ]
    }

    /// The score ranges `[min, max)` to scan: the centre's cell and its eight
    /// neighbours at Redis's precision for the extent, leaving out neighbours outside
    /// the bounding box and repeats of the previous range.
    pub fn score_ranges(&self) -> Vec<(f64, f64)> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius, self.lat);
        let cells = |steps: u8| {
            let hash = encode(WGS84_LONG, WGS84_LAT, self.lon, self.lat, steps).unwrap_or_default();
            (hash, neighbors(hash))
        };
        let (mut hash, mut n) = cells(steps);
        let area_of = |h: Hash| decode(WGS84_LONG, WGS84_LAT, h);
        let decrease = {
            let (north, south) = (area_of(n[0]), area_of(n[1]));
            let (east, west) = (area_of(n[2]), area_of(n[3]));
            north.is_some_and(|a| a.lat.max < max_lat)
                || south.is_some_and(|a| a.lat.min > min_lat)
                || east.is_some_and(|a| a.lon.max < max_lon)
                || west.is_some_and(|a| a.lon.min > min_lon)
        };
        if steps > 1 && decrease {
            steps -= 1;
            (hash, n) = cells(steps);
        }
        // Neighbour order: north, south, east, west, north-east, north-west,
        // south-east, south-west.
        if steps >= 2
            && let Some(area) = area_of(hash)
        {
            let zero = |n: &mut [Hash; 8], which: &[usize]| {
                for &i in which {
                    n[i] = Hash::default();
                }
            };
            if area.lat.min < min_lat {
                zero(&mut n, &[1, 7, 6]);
            }
            if area.lat.max > max_lat {
                zero(&mut n, &[0, 4, 5]);
            }
            if area.lon.min < min_lon {
                zero(&mut n, &[3, 7, 5]);
            }
            if area.lon.max > max_lon {
                zero(&mut n, &[2, 6, 4]);
            }
        }
        // A huge radius makes neighbours repeat: one equal to the last neighbour
        // scanned is skipped (not one equal to the centre, as in Redis).
        let mut out = Vec::with_capacity(9);
        let mut last: Option<Hash> = None;
        for (i, h) in std::iter::once(hash).chain(n).enumerate() {
            if h.is_zero() || (last.is_some() && last == Some(h)) {
                continue;
            }
            let mut next = h;
            next.bits += 1;
            out.push((align52(h) as f64, align52(next) as f64));
            if i > 0 {
                last = Some(h);
            }
        }
        out
    }
}

/// Redis's geohashEstimateStepsByRadius.
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn move_x(h: &mut Hash, d: i8) {
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - h.step as u32 * 2);
    let x = if d > 0 {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    h.bits = (x & (0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step as u32 * 2))) | y;
}

fn move_y(h: &mut Hash, d: i8) {
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step as u32 * 2);
    let y = if d > 0 {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    h.bits = x | (y & (0x5555_5555_5555_5555u64 >> (64 - h.step as u32 * 2)));
}

/// North, south, east, west, north-east, north-west, south-east, south-west.
fn neighbors(h: Hash) -> [Hash; 8] {
    let moved = |dx: i8, dy: i8| {
        let mut n = h;
        if dx != 0 {
            move_x(&mut n, dx);
        }
        if dy != 0 {
            move_y(&mut n, dy);
        }
        n
    };
    [
        moved(0, 1),
        moved(0, -1),
        moved(1, 0),
        moved(-1, 0),
        moved(1, 1),
        moved(-1, 1),
        moved(1, -1),
        moved(-1, -1),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (a, b) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (12345, 67890),
        ] {
            let v = interleave(a, b);
            assert_eq!((squash(v), squash(v >> 1)), (a, b));
        }
    }

    #[test]
    fn points_survive_encoding() {
        let s = score_of(13.361389, 38.115556).unwrap();
        let (lon, lat) = point_of(s);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert!(score_of(181.0, 0.0).is_none());
        assert!(score_of(0.0, 86.0).is_none());
        // Palermo to Catania, as in Redis's documentation.
        let c = score_of(15.087269, 37.502669).unwrap();
        let (lon2, lat2) = point_of(c);
        let d = distance(lon, lat, lon2, lat2);
        assert!((d - 166274.1516).abs() < 0.01, "{d}");
    }
}
