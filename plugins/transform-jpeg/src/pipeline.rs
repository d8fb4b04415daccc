//! The transform from photo bytes to a rendition: validate, sniff, decode, plan, resize,
//! encode within the byte budget, shrinking the rendition when even the lowest quality is too
//! big. Plain Rust, so it runs in native tests; `lib.rs` only adapts the WIT types.

use crate::decode::{self, Decoded, Request};
use crate::encode::{self, Budget, Search};
use crate::error::Rejection;
use crate::geometry::{self, Fit, Size};
use crate::pixels::RgbImage;
use crate::profile::Profile;
use crate::resize;
use crate::settings::Settings;
use crate::sniff;

/// Each shrink step multiplies both sides by this.
const SHRINK_FACTOR: f64 = 0.85;

/// A finished rendition (see `rendition` in the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Baseline JPEG, no metadata, upright.
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
}

/// A rendition and a one-line description of how it was made, for the debug log.
#[derive(Debug, Clone)]
pub struct Transformed {
    pub rendition: Rendition,
    pub note: String,
}

/// Turns `photo` into a rendition for `profile`; `settings` are the plugin's key/value pairs.
pub fn transform<'a>(
    settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    photo: &[u8],
    profile: &Profile,
) -> Result<Transformed, Rejection> {
    let mut all = transform_all(settings, photo, std::slice::from_ref(profile));
    all.pop()
        .unwrap_or_else(|| unreachable!("one answer per profile"))
}

/// Turns `photo` into one rendition per profile, in their order, from one decode at the scale
/// the most demanding profile needs. A bad setting, an unreadable photo or a failed decode is
/// every profile's answer; a bad profile only its own.
pub fn transform_all<'a>(
    settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    photo: &[u8],
    profiles: &[Profile],
) -> Vec<Result<Transformed, Rejection>> {
    let settings = match Settings::parse(settings) {
        Ok(settings) => settings,
        Err(e) => return vec![Err(e); profiles.len()],
    };
    let checked: Vec<_> = profiles.iter().map(Profile::validate).collect();
    let boxes: Vec<(Size, Fit)> = profiles
        .iter()
        .zip(&checked)
        .filter_map(|(p, c)| c.as_ref().ok().map(|(bound, _)| (*bound, p.fit)))
        .collect();
    let decoded = if boxes.is_empty() {
        // Nothing to decode for: every profile has its own rejection.
        Err(Rejection::InvalidSetting("no valid profile".into()))
    } else {
        sniff::sniff(photo).and_then(|format| {
            let request = Request {
                boxes,
                max_pixels: settings.max_pixels,
                background: settings.background,
            };
            Ok((format, decode::decode(format, photo, &request)?))
        })
    };
    profiles
        .iter()
        .zip(checked)
        .map(|(profile, checked)| {
            let (bound, budget) = checked?;
            let (format, decoded) = decoded.as_ref().map_err(Clone::clone)?;
            let (rendition, tried) = fit_budget(decoded, bound, profile.fit, &settings, &budget)?;
            Ok(Transformed {
                note: note(*format, decoded, &rendition, tried),
                rendition,
            })
        })
        .collect()
}

/// How a rendition was made, in one line.
fn note(format: sniff::Format, decoded: &Decoded, rendition: &Rendition, tried: usize) -> String {
    format!(
        "Decoded a {} of {}x{} at scale {}/8 to {}x{} ({:?}{}), rendered {}x{} at quality {} in {} \
         bytes after {tried} size(s); resizer uses {:?}.",
        format.name(),
        decoded.full.width,
        decoded.full.height,
        (decoded.scale * 8.0).round(),
        decoded.image.width,
        decoded.image.height,
        decoded.orientation,
        if decoded.dc_only { ", DC only" } else { "" },
        rendition.width,
        rendition.height,
        rendition.quality,
        rendition.jpeg.len(),
        resize::cpu_extensions(),
    )
}

/// Renders at the profile's size and searches the quality; when even `min_quality` exceeds
/// `max_bytes`, shrinks step by step (at `min_quality`) down to `min-size`.
/// Returns the rendition and how many sizes were tried.
fn fit_budget(
    decoded: &Decoded,
    bound: Size,
    fit: Fit,
    settings: &Settings,
    budget: &Budget,
) -> Result<(Rendition, usize), Rejection> {
    let render = |bound: Size| {
        let plan = geometry::plan(decoded.full, bound, fit);
        resize::render(
            &decoded.image,
            decoded.scale,
            &plan,
            settings.filter,
            settings.background,
        )
    };
    let encode = |image: &RgbImage, quality| encode::encode(image, quality, settings.subsampling);
    let image = render(bound)?;
    let mut tried = match encode::search(budget, |q| encode(&image, q))? {
        Search::Fits { jpeg, quality } => return Ok((rendition(jpeg, &image, quality), 1)),
        Search::TooBig { smallest } => vec![(Size::new(image.width, image.height), smallest)],
    };
    let mut current = Size::new(image.width, image.height);
    while let Some(next) = geometry::shrink(current, SHRINK_FACTOR, settings.min_size) {
        let image = render(next)?;
        let jpeg = encode(&image, budget.min_quality)?;
        current = Size::new(image.width, image.height);
        if jpeg.len() <= budget.max_bytes {
            return Ok((rendition(jpeg, &image, budget.min_quality), tried.len() + 1));
        }
        tried.push((current, jpeg.len()));
    }
    Err(cannot_fit(&tried, budget, settings.min_size))
}

fn rendition(jpeg: Vec<u8>, image: &RgbImage, quality: u8) -> Rendition {
    Rendition {
        jpeg,
        width: image.width,
        height: image.height,
        quality,
    }
}

/// Names the first and last sizes tried and what they came to.
fn cannot_fit(tried: &[(Size, usize)], budget: &Budget, min_size: u32) -> Rejection {
    let describe = |(size, bytes): &(Size, usize)| {
        format!("{}x{} came to {bytes} bytes", size.width, size.height)
    };
    let first = tried.first().map(describe).unwrap_or_default();
    let sizes = match tried.last() {
        Some(last) if tried.len() > 1 => format!(
            "{first}, and the smallest of {} sizes tried, {}",
            tried.len(),
            describe(last)
        ),
        _ => first,
    };
    Rejection::CannotFit(format!(
        "no encoding fits max-bytes {}: at quality {}, {sizes}; no side may go below \
         {min_size} px (setting min-size)",
        budget.max_bytes, budget.min_quality
    ))
}
