//! Frames on disk as 16-bit RGB PNG: lossless for the cache's 16-bit quantisation and opens in any viewer.

use crate::clip::{from_u16, to_u16};
use std::io::Cursor;

/// Encodes one RGB `f32` frame (`width * height * 3` values).
pub(crate) fn encode(
    width: u32,
    height: u32,
    frame: &[f32],
) -> Result<Vec<u8>, png::EncodingError> {
    let data: Vec<u8> = frame
        .iter()
        .flat_map(|&v| to_u16(v).to_be_bytes())
        .collect();
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&data)?;
    writer.finish()?;
    Ok(out)
}

/// Decodes a frame written by [`encode`]; any other size, colour type or depth is an error.
pub(crate) fn decode(bytes: &[u8], width: u32, height: u32) -> Result<Vec<f32>, String> {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .map_err(|e| e.to_string())?;
    let info = reader.info();
    let found = (info.width, info.height, info.color_type, info.bit_depth);
    if found != (width, height, png::ColorType::Rgb, png::BitDepth::Sixteen) {
        return Err(format!(
            "expected {width}x{height} 16-bit RGB, found {found:?}"
        ));
    }
    let mut buf = vec![0; reader.output_buffer_size().ok_or("image too large")?];
    let out = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf[..out.buffer_size()]
        .chunks_exact(2)
        .map(|c| from_u16(u16::from_be_bytes([c[0], c[1]])))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_quantised_pixels() {
        let frame: Vec<f32> = (0..4 * 3 * 3).map(|i| i as f32 / 35.0).collect();
        let quantised: Vec<f32> = frame.iter().map(|&v| from_u16(to_u16(v))).collect();
        let bytes = encode(4, 3, &frame).unwrap();
        assert_eq!(decode(&bytes, 4, 3).unwrap(), quantised);
        assert_eq!(
            decode(&bytes, 3, 4).unwrap_err(),
            "expected 3x4 16-bit RGB, found (4, 3, Rgb, Sixteen)"
        );
    }

    #[test]
    fn truncated_data_is_an_error() {
        let bytes = encode(16, 16, &vec![0.25; 16 * 16 * 3]).unwrap();
        assert!(decode(&bytes[..bytes.len() - 20], 16, 16).is_err());
    }
}
