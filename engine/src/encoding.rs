//! The canonical encoding of a request: one text naming everything in it that decides the pixels a model
//! generates, so a cache can key clips on (model identity, this text) without knowing what the fields mean.
//!
//! # Encoding
//! Compact JSON, object keys in byte order, no whitespace (serde_json's sorted map):
//!
//! | key | value |
//! |---|---|
//! | `family` | the model family's stable name ([`ModelPackage::family`]: `modelscope`, `wan`) |
//! | `frames`, `height`, `width` | the generated size (u32) |
//! | `guidance` | the f32 scale as its exact f64 value (`"inf"` for +∞); `null` unless above 1 (unguided) |
//! | `negative_prompt` | exact text; `null` unless guidance is above 1 (it is then never encoded) |
//! | `numerics` | [`NUMERICS_VERSION`] |
//! | `prompt` | exact text, no trimming |
//! | `scheduler` | the resolved kind's stable name ([`SchedulerKind::name`]) |
//! | `seed`, `steps` | u64, u32 |
//! | `source` | only for video-to-video with a strength below 1: `{"pixels": digest, "strength": exact f32}` |
//! | `start_image` | only when the clip starts from an image: its digest |
//!
//! A digest is `"blake3:<hex>"` of the pixels exactly as the engine gets them (frame count as u64 LE, then
//! each value's f32 LE bytes): the source as used, at the size used, never a file name. Keys that are left
//! out when a feature is unused keep every plain text-to-video key unchanged.
//!
//! Left out on purpose: the model package's files (the model identity covers every file, including
//! `scheduler_config.json`) and the execution device (whichever machine makes a clip first defines it).
//! Any change here changes every clip key (cached clips become misses): `encoding_is_pinned` guards it.
//!
//! [`SchedulerKind::name`]: crate::SchedulerKind::name

use std::sync::Arc;

use serde_json::{json, Value};

use crate::package::ModelPackage;
use crate::request::Request;
use crate::NUMERICS_VERSION;

/// The canonical text of `request` for a model of `family` (see the module docs).
pub fn encode_request(request: &Request, family: &str) -> String {
    let guided = request.is_guided();
    // Written in key order, so the text is the same should serde_json's `preserve_order` ever be enabled.
    let mut encoding = json!({
        "family": family,
        "frames": request.frames,
        "guidance": guided.then(|| exact(request.guidance)),
        "height": request.height,
        "negative_prompt": guided.then_some(request.negative_prompt.as_str()),
        "numerics": NUMERICS_VERSION,
        "prompt": request.prompt,
        "scheduler": request.scheduler.name(),
        "seed": request.seed,
        "steps": request.steps,
        "width": request.width,
    });
    let fields = encoding.as_object_mut().expect("an object");
    if let Some(source) = request.source.as_ref().filter(|s| s.is_used()) {
        let source = json!({"pixels": digest(&source.frames), "strength": exact(source.strength)});
        fields.insert("source".into(), source);
    }
    if let Some(image) = &request.start_image {
        fields.insert(
            "start_image".into(),
            digest(std::slice::from_ref(image)).into(),
        );
    }
    encoding.to_string()
}

/// The digest of frames as the engine reads them (see the module docs).
fn digest(frames: &[Arc<[f32]>]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(frames.len() as u64).to_le_bytes());
    for frame in frames {
        let bytes: Vec<u8> = frame.iter().flat_map(|v| v.to_le_bytes()).collect();
        hasher.update(&bytes);
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

/// An f32 as its exact value; JSON has no number for +∞ (which validation refuses), so it goes as text.
fn exact(v: f32) -> Value {
    serde_json::Number::from_f64(v as f64).map_or_else(|| Value::from(v.to_string()), Value::Number)
}

impl ModelPackage {
    /// The canonical encoding of `request` on this package ([`encode_request`] with its family).
    pub fn request_encoding(&self, request: &Request) -> String {
        encode_request(request, self.family())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchedulerKind;

    fn request() -> Request {
        Request {
            prompt: "a red fox".into(),
            negative_prompt: "blurry".into(),
            seed: 42,
            steps: 25,
            guidance: 9.0,
            scheduler: SchedulerKind::Ddim,
            width: 256,
            height: 192,
            frames: 16,
            source: None,
            start_image: None,
        }
    }

    /// Pins the layout: a change here orphans every cached clip, so it must come with the numerics.
    #[test]
    fn encoding_is_pinned() {
        assert_eq!(
            encode_request(&request(), "wan"),
            r#"{"family":"wan","frames":16,"guidance":9.0,"height":192,"negative_prompt":"blurry","numerics":1,"prompt":"a red fox","scheduler":"ddim","seed":42,"steps":25,"width":256}"#
        );
        let unguided = Request {
            guidance: 1.0,
            ..request()
        };
        assert_eq!(
            encode_request(&unguided, "modelscope"),
            r#"{"family":"modelscope","frames":16,"guidance":null,"height":192,"negative_prompt":null,"numerics":1,"prompt":"a red fox","scheduler":"ddim","seed":42,"steps":25,"width":256}"#
        );
    }

    #[test]
    fn every_pixel_deciding_field_changes_the_encoding() {
        type Change = fn(&mut Request);
        let changes: [Change; 11] = [
            |r| r.prompt.push(' '),
            |r| r.negative_prompt.clear(),
            |r| r.seed += 1,
            |r| r.steps += 1,
            |r| r.guidance = f32::from_bits(r.guidance.to_bits() + 1),
            |r| r.guidance = 1.0 + f32::EPSILON,
            |r| r.guidance = f32::INFINITY,
            |r| r.scheduler = SchedulerKind::UniPc,
            |r| r.width += 16,
            |r| r.height += 16,
            |r| r.frames += 1,
        ];
        let mut texts = vec![
            encode_request(&request(), "modelscope"),
            encode_request(&request(), "wan"),
        ];
        for change in changes {
            let mut r = request();
            change(&mut r);
            texts.push(encode_request(&r, "modelscope"));
        }
        let distinct: std::collections::HashSet<_> = texts.iter().collect();
        assert_eq!(distinct.len(), texts.len(), "{texts:#?}");
    }

    /// Unguided (guidance ≤ 1) the loop reads neither the scale nor the negative prompt: the same pixels,
    /// so the same encoding.
    #[test]
    fn unguided_requests_ignore_the_scale_and_the_negative_prompt() {
        let unguided = |guidance: f32, negative: &str| {
            encode_request(
                &Request {
                    guidance,
                    negative_prompt: negative.into(),
                    ..request()
                },
                "modelscope",
            )
        };
        let one = unguided(1.0, "");
        assert_eq!(unguided(1.0, "blurry"), one);
        assert_eq!(unguided(0.0, "grainy"), one);
        assert_eq!(unguided(-0.0, ""), one);
        assert_ne!(unguided(1.5, ""), one);
        assert_ne!(unguided(1.5, ""), unguided(1.5, "blurry"));
    }

    /// The source's pixels and strength and the start image decide pixels; a strength of 1 reads no
    /// source, so it keys like plain text-to-video.
    #[test]
    fn source_pixels_strength_and_start_image_change_the_encoding() {
        use crate::request::SourceVideo;
        let frame = |v: f32| -> Arc<[f32]> { vec![v; 256 * 192 * 3].into() };
        let with_source = |v: f32, strength: f32| Request {
            source: Some(SourceVideo {
                frames: vec![frame(v); 16],
                strength,
            }),
            ..request()
        };
        let plain = encode_request(&request(), "wan");
        assert_eq!(encode_request(&with_source(0.5, 1.0), "wan"), plain);
        let half = encode_request(&with_source(0.5, 0.5), "wan");
        assert!(half.contains(r#""source":{"pixels":"blake3:"#), "{half}");
        assert!(
            half.ends_with(r#""strength":0.5},"steps":25,"width":256}"#),
            "{half}"
        );
        let texts = [
            plain.clone(),
            half,
            encode_request(&with_source(0.25, 0.5), "wan"),
            encode_request(&with_source(0.5, 0.25), "wan"),
            encode_request(
                &Request {
                    start_image: Some(frame(0.5)),
                    ..request()
                },
                "wan",
            ),
        ];
        let distinct: std::collections::HashSet<_> = texts.iter().collect();
        assert_eq!(distinct.len(), texts.len(), "{texts:#?}");
    }
}
