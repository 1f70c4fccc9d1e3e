//! Prompts that change over a clip. A prompt whose every non-blank line is `<frame>: <text>` (frames of the
//! generated clip, from 0, strictly increasing) is a schedule: `0: a red sky` / `48: a storm`. Each distinct
//! prompt is encoded once; between two keyframes the text embeddings are interpolated linearly by frame,
//! before the first and after the last they hold. The denoiser takes one text context per window (see
//! `window`), so the prompt moves from window to window, taken at each window's middle frame.

/// One keyframe: the prompt from `frame` on.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    pub frame: u32,
    pub prompt: String,
}

/// The keyframes of `prompt` when it is a schedule (see the module docs), else `None` (one prompt).
/// A text that looks like a schedule but is not a valid one is an error naming the line.
pub fn parse(prompt: &str) -> Result<Option<Vec<Keyframe>>, String> {
    let lines: Vec<&str> = prompt.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() || !lines.iter().all(|l| keyed(l).is_some()) {
        return Ok(None);
    }
    let mut keys: Vec<Keyframe> = Vec::with_capacity(lines.len());
    for line in lines {
        let (frame, text) = keyed(line).expect("checked above");
        let frame: u32 = frame
            .parse()
            .map_err(|_| format!("prompt schedule line {line:?}: {frame} is not a frame number"))?;
        if let Some(last) = keys.last() {
            if frame <= last.frame {
                return Err(format!(
                    "prompt schedule line {line:?}: frame {frame} must come after frame {}",
                    last.frame
                ));
            }
        }
        keys.push(Keyframe {
            frame,
            prompt: text.to_string(),
        });
    }
    Ok(Some(keys))
}

/// A line's frame number and text, if it has the form `<digits>: text`.
fn keyed(line: &str) -> Option<(&str, &str)> {
    let (frame, text) = line.split_once(':')?;
    let frame = frame.trim();
    (!frame.is_empty() && frame.bytes().all(|b| b.is_ascii_digit())).then(|| (frame, text.trim()))
}

/// Where `frame` falls between keyframes: (index of the earlier key, index of the later, weight of the
/// later in 0..1).
pub(crate) fn position(keys: &[Keyframe], frame: f64) -> (usize, usize, f32) {
    let after = keys.iter().position(|k| k.frame as f64 > frame);
    match after {
        Some(0) => (0, 0, 0.0),
        None => (keys.len() - 1, keys.len() - 1, 0.0),
        Some(b) => {
            let (a, b_frame) = (keys[b - 1].frame as f64, keys[b].frame as f64);
            (b - 1, b, ((frame - a) / (b_frame - a)) as f32)
        }
    }
}

/// `a` and `b` mixed: (1 − t)·a + t·b.
pub(crate) fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(&a, &b)| a + t * (b - a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(frame: u32, prompt: &str) -> Keyframe {
        Keyframe {
            frame,
            prompt: prompt.into(),
        }
    }

    #[test]
    fn schedules_are_lines_of_frame_and_prompt() {
        assert_eq!(parse("a red fox"), Ok(None));
        assert_eq!(parse("a fox: red"), Ok(None));
        assert_eq!(
            parse("0: a red sky\n48: a storm\n"),
            Ok(Some(vec![key(0, "a red sky"), key(48, "a storm")]))
        );
        assert_eq!(
            parse("  10 :  calm sea \n\n 20: waves"),
            Ok(Some(vec![key(10, "calm sea"), key(20, "waves")]))
        );
        // One line of prose with a colon after a number stays a schedule of one key: the same prompt all along.
        assert_eq!(parse("3: birds"), Ok(Some(vec![key(3, "birds")])));
        assert_eq!(
            parse("0: a\n0: b"),
            Err("prompt schedule line \"0: b\": frame 0 must come after frame 0".into())
        );
        assert_eq!(
            parse("99999999999: a"),
            Err(
                "prompt schedule line \"99999999999: a\": 99999999999 is not a frame number".into()
            )
        );
    }

    #[test]
    fn positions_hold_before_and_after_and_interpolate_between() {
        let keys = [key(10, "a"), key(20, "b"), key(40, "c")];
        assert_eq!(position(&keys, 0.0), (0, 0, 0.0));
        assert_eq!(position(&keys, 10.0), (0, 1, 0.0));
        assert_eq!(position(&keys, 15.0), (0, 1, 0.5));
        assert_eq!(position(&keys, 30.0), (1, 2, 0.5));
        assert_eq!(position(&keys, 40.0), (2, 2, 0.0));
        assert_eq!(lerp(&[0.0, 2.0], &[1.0, 4.0], 0.25), vec![0.25, 2.5]);
    }
}
