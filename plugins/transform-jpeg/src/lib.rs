//! photosync transformer plugin: turns an uploaded photo (JPEG, PNG, GIF, BMP, WebP, TIFF) into
//! an upright, metadata-free baseline JPEG that fits a directory attribute's size and byte
//! limits. See README.md for the contract and the settings.
//!
//! # Layout
//! - `pipeline`: the whole transform in plain Rust (what the native tests drive).
//! - `settings`: the plugin's key/value settings, parsed and validated.
//! - `profile`: the host's rendition profile, validated into a box and a byte budget.
//! - `sniff`: the format from magic bytes, and what unsupported bytes look like.
//! - `decode`: header checks against the pixel limit, then pixels (`jpeg` with DCT scaling,
//!   `dc_only` for JPEGs needed at 1/8 scale, `other` through the `image` crate).
//! - `exif`: the orientation tag from a JPEG's Exif block.
//! - `orient`: turning pixels upright.
//! - `pixels`: the RGB image type and colour conversions (grey, CMYK, 16-bit, alpha).
//! - `geometry`: crop/pad/contain arithmetic and shrink steps.
//! - `resize`: scaling with `fast_image_resize`.
//! - `encode`: baseline JPEG encoding and the quality search.
//! - `error`: the rejection type.
//!
//! This file only adapts the WIT types to those modules (`component`, compiled for wasm32 only:
//! the component's export names are not valid native symbol names). The component exports
//! `transform` and, from WIT 0.1.1, `transform-all`, which decodes a photo once for all its
//! renditions.

pub mod decode;
pub mod encode;
pub mod error;
pub mod exif;
pub mod geometry;
pub mod orient;
pub mod pipeline;
pub mod pixels;
pub mod profile;
pub mod resize;
pub mod settings;
pub mod sniff;

/// The WIT bindings and the exported `transformer` and `multi-transformer` interfaces.
#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ path: "../../wit", world: "multi-transformer-plugin" });

    use self::exports::photosync::plugin::multi_transformer;
    use self::exports::photosync::plugin::transformer::{
        Fit, Guest, Profile, Rejection, Rendition,
    };
    use self::photosync::plugin::log::{Level, log};
    use self::photosync::plugin::types::Setting;
    use crate::{error, geometry, pipeline, profile};

    /// The exported component.
    #[derive(Debug)]
    struct TransformJpeg;

    impl Guest for TransformJpeg {
        fn transform(
            settings: Vec<Setting>,
            photo: Vec<u8>,
            profile: Profile,
        ) -> Result<Rendition, Rejection> {
            let pairs = settings.iter().map(|s| (s.key.as_str(), s.value.as_str()));
            answer(pipeline::transform(pairs, &photo, &ours(profile)))
        }
    }

    impl multi_transformer::Guest for TransformJpeg {
        fn transform_all(
            settings: Vec<Setting>,
            photo: Vec<u8>,
            profiles: Vec<Profile>,
        ) -> Vec<Result<Rendition, Rejection>> {
            let pairs = settings.iter().map(|s| (s.key.as_str(), s.value.as_str()));
            let profiles: Vec<_> = profiles.into_iter().map(ours).collect();
            pipeline::transform_all(pairs, &photo, &profiles)
                .into_iter()
                .map(answer)
                .collect()
        }
    }

    fn ours(profile: Profile) -> profile::Profile {
        profile::Profile {
            attribute: profile.attribute,
            max_width: profile.max_width,
            max_height: profile.max_height,
            max_bytes: profile.max_bytes,
            target_bytes: profile.target_bytes,
            fit: fit(profile.fit),
            min_quality: profile.min_quality,
            max_quality: profile.max_quality,
        }
    }

    /// A rendition (logging how it was made) or a rejection, in the WIT's types.
    fn answer(
        done: Result<pipeline::Transformed, error::Rejection>,
    ) -> Result<Rendition, Rejection> {
        let done = done.map_err(rejection)?;
        log(Level::Debug, &done.note);
        let r = done.rendition;
        Ok(Rendition {
            jpeg: r.jpeg,
            width: r.width,
            height: r.height,
            quality: r.quality,
        })
    }

    fn fit(fit: Fit) -> geometry::Fit {
        match fit {
            Fit::Crop => geometry::Fit::Crop,
            Fit::Pad => geometry::Fit::Pad,
            Fit::Contain => geometry::Fit::Contain,
        }
    }

    fn rejection(rejection: error::Rejection) -> Rejection {
        match rejection {
            error::Rejection::UnsupportedFormat(r) => Rejection::UnsupportedFormat(r),
            error::Rejection::Corrupt(r) => Rejection::Corrupt(r),
            error::Rejection::TooLarge(r) => Rejection::TooLarge(r),
            error::Rejection::CannotFit(r) => Rejection::CannotFit(r),
            error::Rejection::InvalidSetting(r) => Rejection::InvalidSetting(r),
        }
    }

    export!(TransformJpeg);
}
