//! `--source DIR`: PNG frames, in name order, as the Source clip's timeline frames 0, 1, 2…, decoded
//! when the plugin fetches them (8 or 16 bits, grey, RGB or RGBA); `--start-from`'s values.

use ofx_host::{SourceClip, SourceFrame};
use std::path::{Path, PathBuf};

/// The largest source frame decoded (pixels), so a hostile PNG header cannot make it allocate more.
const MAX_PIXELS: u64 = 1 << 26;

/// The PNG files of `dir` in name order, less the contact sheet a render writes beside its frames (so
/// one render's output folder is the next one's source).
pub fn frames(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("--source {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .filter(|p| p.file_name().is_some_and(|n| n != crate::CONTACT_SHEET))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("--source {}: no .png frames in it", dir.display()));
    }
    Ok(paths)
}

/// The Source clip showing `paths[t]` at timeline frame `t` (none outside them).
pub fn clip(paths: Vec<PathBuf>) -> SourceClip {
    SourceClip::new(move |t| {
        let path = usize::try_from(t as i64).ok().and_then(|i| paths.get(i))?;
        match decode(path) {
            Ok(frame) => Some(frame),
            Err(e) => {
                eprintln!("render: {}: {e}", path.display());
                None
            }
        }
    })
}

/// A PNG as RGBA 0..1.
pub fn decode(path: &Path) -> Result<SourceFrame, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let (w, h) = (reader.info().width, reader.info().height);
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!(
            "{w}×{h} pixels is too large (at most {MAX_PIXELS})"
        ));
    }
    let mut buf = vec![0; reader.output_buffer_size().ok_or("too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let bytes = &buf[..info.buffer_size()];
    let samples: Vec<f32> = match info.bit_depth {
        png::BitDepth::Sixteen => bytes
            .chunks_exact(2)
            .map(|b| f32::from(u16::from_be_bytes([b[0], b[1]])) / 65535.0)
            .collect(),
        _ => bytes.iter().map(|&b| f32::from(b) / 255.0).collect(),
    };
    let rgba = match info.color_type {
        png::ColorType::Rgba => samples,
        png::ColorType::Rgb => samples
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 1.0])
            .collect(),
        png::ColorType::GrayscaleAlpha => samples
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => samples.iter().flat_map(|&v| [v, v, v, 1.0]).collect(),
        png::ColorType::Indexed => return Err("indexed colour left unexpanded".into()),
    };
    Ok(SourceFrame {
        width: w as usize,
        height: h as usize,
        rgba,
    })
}

/// `--start-from`: `none`, `clip-start` or `frame:N` as the plugin's Start From index and Start Frame.
pub fn start_from(text: &str) -> Result<(i32, i32), String> {
    match text {
        "none" => Ok((0, 0)),
        "clip-start" => Ok((1, 0)),
        _ => text
            .strip_prefix("frame:")
            .and_then(|n| n.parse().ok())
            .map(|n| (2, n))
            .ok_or_else(|| format!("`{text}` is not none, clip-start or frame:N")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_from_values_parse() {
        assert_eq!(start_from("none"), Ok((0, 0)));
        assert_eq!(start_from("clip-start"), Ok((1, 0)));
        assert_eq!(start_from("frame:-12"), Ok((2, -12)));
        assert_eq!(
            start_from("frame:x"),
            Err("`frame:x` is not none, clip-start or frame:N".into())
        );
    }

    #[test]
    fn frames_decode_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, v) in [("b.png", 255u8), ("a.png", 51), (crate::CONTACT_SHEET, 9)] {
            ofx_host::png_out::write_rgba8(
                &dir.path().join(name),
                2,
                1,
                &[v, 0, 0, 255, 0, v, 0, 128],
            )
            .unwrap();
        }
        let paths = frames(dir.path()).unwrap();
        assert_eq!(
            paths.len(),
            2,
            "the contact sheet is not a frame: {paths:?}"
        );
        assert_eq!(paths[0].file_name().unwrap(), "a.png");
        let frame = decode(&paths[0]).unwrap();
        assert_eq!((frame.width, frame.height), (2, 1));
        assert_eq!(
            frame.rgba,
            [0.2, 0.0, 0.0, 1.0, 0.0, 0.2, 0.0, 128.0 / 255.0]
        );
        assert!(frames(&dir.path().join("none")).is_err());
    }
}
