//! LOLWUT [VERSION v] [args...]: computer art and the version, as Redis 7.0's lolwut.c.
//! Redis 7.0 itself has no art of its own: by default it prints only its version line;
//! `VERSION 5` draws Georg Nees's "Schotter" and `VERSION 6` a city skyline, with the
//! same arithmetic, limits and random choices as stock (so the same shape of output; the
//! random numbers differ run to run there too).

use super::{CmdResult, Ctx, arg_i64, is};
use bytes::Bytes;
use rand::RngExt;

/// C's `rand()`: 0 ..= RAND_MAX (2^31 - 1).
fn c_rand() -> i64 {
    (rand::rng().random::<u32>() >> 1) as i64
}

const RAND_MAX: f32 = 2147483647.0;

/// A pixel canvas (lolwut.h's lwCanvas); out-of-range reads are 0, writes ignored.
struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, color: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![color; (width.max(0) * height.max(0)) as usize],
        }
    }

    fn set(&mut self, x: i64, y: i64, color: u8) {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return;
        }
        self.pixels[(x + y * self.width) as usize] = color;
    }

    fn get(&self, x: i64, y: i64) -> u8 {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return 0;
        }
        self.pixels[(x + y * self.width) as usize]
    }

    /// Bresenham, as lwDrawLine.
    fn line(&mut self, mut x1: i64, mut y1: i64, x2: i64, y2: i64, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square of side `size` centred on (x, y), rotated by `angle` (lwDrawSquare, with
    /// its float/double mix).
    // 1.4142135623 is stock's literal (not SQRT_2): the same rounding of the side.
    #[allow(clippy::approx_constant)]
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32, color: u8) {
        let size = ((size as f64 / 1.4142135623) as f32 as f64).round() as f32;
        let mut k: f32 = (std::f64::consts::FRAC_PI_4 + angle as f64) as f32;
        let (mut px, mut py) = ([0i64; 4], [0i64; 4]);
        for j in 0..4 {
            px[j] = ((k as f64).sin() * size as f64 + x as f64).round() as i64;
            py[j] = ((k as f64).cos() * size as f64 + y as f64).round() as i64;
            k = (k as f64 + std::f64::consts::FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }
}

/// LOLWUT: dispatches on the version as lolwutCommand does (5.x but 5.9 and 4.9 draw
/// version 5's art, 6.x and 5.9 version 6's, anything else prints the version alone).
pub fn lolwut(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut version = crate::base::REDIS_COMPAT_VERSION.to_string();
    let mut rest = &args[1..];
    if args.len() >= 3 && is(&args[1], "version") {
        let v = arg_i64(&args[2])?;
        version = format!("{}.0.0", v as u32);
        rest = &args[3..];
    }
    // Every version string here is "N.0.0" or ours: at least three bytes.
    let v = version.as_bytes();
    let art = match (v[0], v[1], v[2]) {
        (b'5', b'.', c) if c != b'9' => 5,
        (b'4', b'.', b'9') => 5,
        (b'6', b'.', c) if c != b'9' => 6,
        (b'5', b'.', b'9') => 6,
        _ => 0,
    };
    let text = match art {
        5 => schotter(rest)?,
        6 => skyline(rest)?,
        _ => format!("Redis ver. {}\n", crate::base::REDIS_COMPAT_VERSION).into_bytes(),
    };
    ctx.out.verbatim(&text);
    Ok(())
}

/// Optional integer arguments in order, each clamped to its range (defaults otherwise).
fn int_args(rest: &[Bytes], spec: &[(i64, i64, i64)]) -> Result<Vec<i64>, super::CmdError> {
    spec.iter()
        .enumerate()
        .map(|(i, &(default, lo, hi))| {
            let v = match rest.get(i) {
                Some(a) => arg_i64(a)?,
                None => default,
            };
            Ok(v.clamp(lo, hi))
        })
        .collect()
}

/// Version 5: "Schotter" (lolwut5.c) in braille characters.
fn schotter(rest: &[Bytes]) -> Result<Vec<u8>, super::CmdError> {
    let a = int_args(rest, &[(66, 1, 1000), (8, 1, 200), (12, 1, 200)])?;
    let (cols, per_row, per_col) = (a[0], a[1], a[2]);
    let canvas_width = cols * 2;
    let padding = if canvas_width > 4 { 2 } else { 0 };
    let side: f32 = (canvas_width - padding * 2) as f32 / per_row as f32;
    let canvas_height = (side * per_col as f32 + (padding * 2) as f32) as i64;
    let mut canvas = Canvas::new(canvas_width, canvas_height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut angle: f32 = 0.0;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in r.iter_mut() {
                    *v = c_rand() as f32 / RAND_MAX / per_col as f32 * y as f32;
                }
                for v in r.iter_mut() {
                    if c_rand() % 2 == 1 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i64;
                sy = (sy as f32 + r[2] * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    let mut text = Vec::new();
    let mut y = 0;
    while y < canvas.height {
        let mut x = 0;
        while x < canvas.width {
            let bits = [
                (x, y),
                (x, y + 1),
                (x, y + 2),
                (x + 1, y),
                (x + 1, y + 1),
                (x + 1, y + 2),
                (x, y + 3),
                (x + 1, y + 3),
            ];
            let byte = bits
                .iter()
                .enumerate()
                .filter(|(_, (px, py))| canvas.get(*px, *py) != 0)
                .fold(0u32, |b, (i, _)| b | (1 << i));
            let code = 0x2800 + byte;
            text.push(0xE0 | (code >> 12) as u8);
            text.push(0x80 | ((code >> 6) & 0x3F) as u8);
            text.push(0x80 | (code & 0x3F) as u8);
            x += 2;
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
        y += 4;
    }
    text.extend_from_slice(b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    text.extend_from_slice(crate::base::REDIS_COMPAT_VERSION.as_bytes());
    text.push(b'\n');
    Ok(text)
}

/// One skyscraper of version 6's skyline (generateSkyscraper).
fn skyscraper(canvas: &mut Canvas, xoff: i64, width: i64, height: i64, windows: bool, color: u8) {
    let starty = canvas.height - 1;
    let endy = starty - height + 1;
    let mut y = starty;
    while y >= endy {
        for x in xoff..xoff + width {
            if y == endy && (x <= xoff + 1 || x >= xoff + width - 2) {
                continue;
            }
            let mut c = color;
            if windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1 {
                let relx = x - (xoff + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        c = (1 + c_rand() % 2) as u8;
                        if c != color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        c = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, c);
        }
        y -= 1;
    }
}

/// Version 6: a city skyline (lolwut6.c) in terminal colours.
fn skyline(rest: &[Bytes]) -> Result<Vec<u8>, super::CmdError> {
    let a = int_args(rest, &[(80, 1, 1000), (20, 1, 1000)])?;
    let mut canvas = Canvas::new(a[0], a[1], 3);
    let h = canvas.height;
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += c_rand() % 8;
            let width = 10 + c_rand() % 9;
            let height = if color == 2 {
                h / 2 + (c_rand() % h) / 2
            } else {
                h / 2 + (c_rand() % h) / 3
            };
            skyscraper(&mut canvas, offset, width, height, false, color);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += c_rand() % 8;
        let mut width = 5 + c_rand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (c_rand() % h) / 2;
        skyscraper(&mut canvas, offset, width, height, true, 0);
        offset += width + 5;
    }
    let mut text = Vec::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let ce: &[u8] = match canvas.get(x, y) {
                1 => b"0;90;100m",
                2 => b"0;37;47m",
                3 => b"0;97;107m",
                _ => b"0;30;40m",
            };
            text.extend_from_slice(b"\x1b[");
            text.extend_from_slice(ce);
            text.extend_from_slice(b" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
    }
    text.extend_from_slice(
        b"\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. ",
    );
    text.extend_from_slice(crate::base::REDIS_COMPAT_VERSION.as_bytes());
    text.push(b'\n');
    Ok(text)
}
